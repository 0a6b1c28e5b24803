/*
 * PLAN -> BUILD_TARGET -> combine(tasks) -> RUN_SAMPLER -> collect() -> COLLECT (-> PROMOTE)
 *
 * The store (--store) is the record of what is done: a target or run finished there by this code is
 * reused, never built or drawn again (like the local runner), so a rerun of a sweep, with or
 * without -resume, draws only what is new, changed or failed. A RUN_SAMPLER task draws the runs of
 * one target that the store lacks, of one task folder of PLAN (at most --runs_per_task sampler
 * specs, those of one compiled program side by side so they batch).
 * A build or run that fails leaves its error.json (published into the store: the table says why,
 * and the next run tries it again); a task killed by a signal is retried for resources, then
 * ignored, and its jobs are failed rows. COLLECT writes one row per planned job.
 */
include { PLAN         } from '../modules/local/plan/main'
include { BUILD_TARGET } from '../modules/local/build_target/main'
include { RUN_SAMPLER  } from '../modules/local/run_sampler/main'
include { COLLECT      } from '../modules/local/collect/main'
include { PROMOTE      } from '../modules/local/promote/main'
include { runIds; storedRuns; storedTarget; targetLabel; taskLabel } from './utils'

workflow LLC {
    take:
    config        // path: the sweep file (its folder travels with PLAN: user presets, data files)
    code_version  // val: package version + digest of its source, part of every build's and run's hash
    promote       // val: also draw the plots and the gallery
    runs_per_task // val: sampler runs per RUN_SAMPLER task
    store         // val: the store folder, where finished targets and runs are looked up
    reuse         // val: reuse what the store holds (false with --force and in stub runs)

    main:
    PLAN ( config.parent, config.name, runs_per_task, code_version )

    // target specs joined with the user files each one reads (a data file, a model file, a
    // checkpoint; none for generated data and built-in models); a target the store holds is
    // reused, the others are built
    ch_inputs = PLAN.out.inputs
        .splitCsv( header: true )
        .map { row -> [ row.target_id, row.kind, file(row.path, checkIfExists: true) ] }
        .groupTuple()
        .map { id, kinds, paths -> [ id, [ kinds, paths ].transpose().collectEntries() ] }
    ch_targets = PLAN.out.targets.flatten()
        .map { spec -> [ spec.baseName, spec ] }
        .join( ch_inputs, remainder: true )
        .map { id, spec, inputs ->
            def stored = storedTarget( file("${store}/targets/${id}"), code_version, reuse )
            [ [ id: id, label: targetLabel(spec), code: code_version, retry: stored.retry ], spec, inputs ?: [:], stored.files ]
        }
        .branch { _meta, _spec, _inputs, files ->
            reused: files
            build: true
        }
    BUILD_TARGET ( ch_targets.build.map { meta, spec, inputs, _files ->
        [ meta, spec, inputs.data ?: [], inputs.model ?: [], inputs.checkpoint ?: [] ] } )
    ch_builds = BUILD_TARGET.out.target
        .map { meta, files -> [ meta, files instanceof List ? files : [ files ] ] }
        .branch { _meta, files ->
            built: files.any { target_file -> target_file.name == 'meta.json' }
            failed: true                 // its error.json
        }
    ch_target = ch_builds.built.mix( ch_targets.reused.map { meta, _spec, _inputs, files -> [ meta, files ] } )

    ch_tasks = PLAN.out.tasks.flatten()
        .map { folder ->
            def specs = files("${folder}/*.json").sort { spec -> spec.name }   // names begin with the run's index
            [ [ id: folder.name, label: taskLabel(specs) ], specs ]
        }
    ch_run_ids = PLAN.out.summary.map { plan -> runIds(plan) }
    ch_jobs = ch_target
        .combine( ch_tasks )
        .combine( ch_run_ids )
        .map { target_meta, target, task_meta, specs, run_ids ->
            def stored = storedRuns( file("${store}/targets/${target_meta.id}"), specs, run_ids[target_meta.id], code_version, reuse )
            [ [ id: "${target_meta.id}__${task_meta.id}".toString(), target_id: target_meta.id, task_id: task_meta.id,
                label: "${target_meta.id} × ${task_meta.label}".toString(), code: code_version,
                run_ids: stored.todo.collect { spec -> run_ids[target_meta.id][spec.baseName.replaceFirst(/^\d+_/, '')] },
                retry: stored.retry ],
              target, stored.todo, stored.done ]
        }
    RUN_SAMPLER ( ch_jobs.filter { job -> job[2] }.map { meta, target, todo, _done -> [ meta, target, todo ] } )

    // ifEmpty: COLLECT runs (and records every job as failed) even when nothing succeeded
    ch_runs = RUN_SAMPLER.out.run.map { _meta, run -> run }
        .mix( ch_jobs.flatMap { job -> job[3] } )
        .collect().ifEmpty( [] )
    ch_built  = ch_target.map { meta, _files -> meta.id }.collect().ifEmpty( [] )
    ch_failed = ch_builds.failed.map { _meta, files -> files[0].parent }.collect().ifEmpty( [] )
    COLLECT ( PLAN.out.summary, ch_runs, ch_failed, ch_built, code_version )

    // what each process ran, as nf-core's versions.yml: one entry per process (its tasks share an image)
    ch_versions = PLAN.out.versions
        .mix( BUILD_TARGET.out.versions, RUN_SAMPLER.out.versions, COLLECT.out.versions )
    ch_done = COLLECT.out.counts
    if( promote ) {
        PROMOTE ( COLLECT.out.results, ch_runs, code_version )
        ch_versions = ch_versions.mix( PROMOTE.out.versions )
        ch_done = COLLECT.out.counts.combine( PROMOTE.out.gallery ).map { counts, _gallery -> counts }
    }

    emit:
    results  = COLLECT.out.results
    summary  = COLLECT.out.summary
    counts   = ch_done                // the rows' counts by status, once the table (and the gallery) are written
    plan     = PLAN.out.summary
    versions = ch_versions.map { versions_file -> versions_file.text.trim() }.unique()
}
