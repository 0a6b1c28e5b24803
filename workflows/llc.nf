/*
 * PLAN -> BUILD_TARGET -> combine(samplers) -> RUN_SAMPLER -> collect() -> COLLECT (-> PROMOTE)
 *
 * A failed build or run is ignored by Nextflow (after retries of resource kills), so the other
 * jobs go on; COLLECT still runs, with one row per planned job, and the failed jobs get
 * status 'failed'. Failed tasks are never cached: -resume runs exactly them (and changed ones) again.
 */
include { PLAN         } from '../modules/local/plan/main'
include { BUILD_TARGET } from '../modules/local/build_target/main'
include { RUN_SAMPLER  } from '../modules/local/run_sampler/main'
include { COLLECT      } from '../modules/local/collect/main'
include { PROMOTE      } from '../modules/local/promote/main'
include { samplerLabel; targetLabel } from './utils'

workflow LLC {
    take:
    config        // path: the sweep file (its folder travels with PLAN: user presets, data files)
    code_version  // val: package version + digest of its source, part of every build's and run's hash
    promote       // val: also draw the plots and the gallery

    main:
    PLAN ( config.parent, config.name )

    // target specs joined with the user data file each one reads (none for generated data)
    ch_data = PLAN.out.inputs
        .splitCsv( header: true )
        .map { row -> [ row.target_id, file(row.path, checkIfExists: true) ] }
    ch_targets = PLAN.out.targets.flatten()
        .map { spec -> [ spec.baseName, spec ] }
        .join( ch_data, remainder: true )
        .map { id, spec, data -> [ [ id: id, label: targetLabel(spec), code: code_version ], spec, data ?: [] ] }
    BUILD_TARGET ( ch_targets )

    ch_samplers = PLAN.out.samplers.flatten().map { spec -> [ [ id: spec.baseName, label: samplerLabel(spec) ], spec ] }
    ch_jobs = BUILD_TARGET.out.target
        .combine( ch_samplers )
        .map { target_meta, target, sampler_meta, spec ->
            [ [ id: "${target_meta.id}__${sampler_meta.id}".toString(), target_id: target_meta.id,
                sampler_id: sampler_meta.id, label: "${target_meta.id} × ${sampler_meta.label}".toString(),
                code: code_version ], target, spec ]
        }
    RUN_SAMPLER ( ch_jobs )

    // ifEmpty: COLLECT runs (and records every job as failed) even when nothing succeeded
    ch_runs  = RUN_SAMPLER.out.run.map { _meta, run -> run }.collect().ifEmpty( [] )
    ch_built = BUILD_TARGET.out.target.map { meta, _target -> meta.id }.collect().ifEmpty( [] )
    COLLECT ( PLAN.out.summary, ch_runs, ch_built )

    if( promote ) {
        PROMOTE ( COLLECT.out.results, ch_runs )
    }

    emit:
    results = COLLECT.out.results
    summary = COLLECT.out.summary
    plan    = PLAN.out.summary
}
