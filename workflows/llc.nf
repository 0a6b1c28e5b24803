/*
 * PLAN -> BUILD_TARGET -> combine(tasks) -> RUN_SAMPLER -> collect() -> COLLECT (-> PROMOTE)
 *
 * A RUN_SAMPLER task draws several runs of one target (a task folder of PLAN: at most
 * --runs_per_task sampler specs, those of one compiled program side by side so they batch).
 * A run that fails inside its task writes error.json and fails alone; its row says why.
 * A failed build or killed task is ignored by Nextflow (after retries of resource kills), so the
 * other jobs go on; COLLECT still runs, with one row per planned job. Failed tasks are never
 * cached: -resume runs exactly them (and changed ones) again.
 */
include { PLAN         } from '../modules/local/plan/main'
include { BUILD_TARGET } from '../modules/local/build_target/main'
include { RUN_SAMPLER  } from '../modules/local/run_sampler/main'
include { COLLECT      } from '../modules/local/collect/main'
include { PROMOTE      } from '../modules/local/promote/main'
include { targetLabel; taskLabel } from './utils'

workflow LLC {
    take:
    config        // path: the sweep file (its folder travels with PLAN: user presets, data files)
    code_version  // val: package version + digest of its source, part of every build's and run's hash
    promote       // val: also draw the plots and the gallery
    runs_per_task // val: sampler runs per RUN_SAMPLER task

    main:
    PLAN ( config.parent, config.name, runs_per_task, code_version )

    // target specs joined with the user data file each one reads (none for generated data)
    ch_data = PLAN.out.inputs
        .splitCsv( header: true )
        .map { row -> [ row.target_id, file(row.path, checkIfExists: true) ] }
    ch_targets = PLAN.out.targets.flatten()
        .map { spec -> [ spec.baseName, spec ] }
        .join( ch_data, remainder: true )
        .map { id, spec, data -> [ [ id: id, label: targetLabel(spec), code: code_version ], spec, data ?: [] ] }
    BUILD_TARGET ( ch_targets )

    ch_tasks = PLAN.out.tasks.flatten()
        .map { folder ->
            def specs = files("${folder}/*.json").sort { spec -> spec.name }   // names begin with the run's index
            [ [ id: folder.name, label: taskLabel(specs) ], specs ]
        }
    ch_jobs = BUILD_TARGET.out.target
        .combine( ch_tasks )
        .map { target_meta, target, task_meta, specs ->
            [ [ id: "${target_meta.id}__${task_meta.id}".toString(), target_id: target_meta.id,
                task_id: task_meta.id, label: "${target_meta.id} × ${task_meta.label}".toString(),
                code: code_version ], target, specs ]
        }
    RUN_SAMPLER ( ch_jobs )

    // ifEmpty: COLLECT runs (and records every job as failed) even when nothing succeeded
    ch_runs  = RUN_SAMPLER.out.run.map { _meta, run -> run }.collect().ifEmpty( [] )
    ch_built = BUILD_TARGET.out.target.map { meta, _target -> meta.id }.collect().ifEmpty( [] )
    COLLECT ( PLAN.out.summary, ch_runs, ch_built, code_version )

    // what each process ran, as nf-core's versions.yml: one entry per process (its tasks share an image)
    ch_versions = PLAN.out.versions
        .mix( BUILD_TARGET.out.versions, RUN_SAMPLER.out.versions, COLLECT.out.versions )
    if( promote ) {
        PROMOTE ( COLLECT.out.results, ch_runs, code_version )
        ch_versions = ch_versions.mix( PROMOTE.out.versions )
    }

    emit:
    results = COLLECT.out.results
    summary = COLLECT.out.summary
    plan    = PLAN.out.summary
    versions = ch_versions.map { file -> file.text.trim() }.unique()
}
