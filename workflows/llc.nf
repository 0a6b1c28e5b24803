/*
 * PLAN -> BUILD_TARGET -> combine(samplers) -> RUN_SAMPLER -> collect() -> COLLECT
 */
include { PLAN         } from '../modules/local/plan/main'
include { BUILD_TARGET } from '../modules/local/build_target/main'
include { RUN_SAMPLER  } from '../modules/local/run_sampler/main'
include { COLLECT      } from '../modules/local/collect/main'
include { PROMOTE      } from '../modules/local/promote/main'

workflow LLC {
    take:
    config       // path: the sweep file (its folder is staged too, for user presets)
    promote      // val: also draw the plots and the gallery

    main:
    PLAN ( config.parent, config.name )

    // spec files -> [ meta, file ]; BUILD_TARGET and RUN_SAMPLER hash them by content (cache 'deep'),
    // so a re-planned, unchanged spec reuses its finished task under -resume
    ch_targets = PLAN.out.targets.flatten().map { spec -> [ [ id: spec.baseName ], spec ] }
    ch_samplers = PLAN.out.samplers.flatten().map { spec -> [ [ id: spec.baseName ], spec ] }

    BUILD_TARGET ( ch_targets )

    ch_jobs = BUILD_TARGET.out.target
        .combine( ch_samplers )
        .map { target_meta, target, sampler_meta, spec ->
            [ [ id: "${target_meta.id}__${sampler_meta.id}".toString(), target_id: target_meta.id, sampler_id: sampler_meta.id ], target, spec ]
        }
    RUN_SAMPLER ( ch_jobs )

    ch_runs = RUN_SAMPLER.out.run.map { _meta, run -> run }.collect()
    COLLECT ( ch_runs )

    if( promote ) {
        PROMOTE ( COLLECT.out.results, ch_runs )
    }

    emit:
    results = COLLECT.out.results
    plan    = PLAN.out.summary
}
