#!/usr/bin/env nextflow
/*
 * Lambda-Hat: LLC estimates for N targets x M samplers.
 *   nextflow run main.nf -profile slurm_a100 [-resume]
 *   nextflow run main.nf -profile test,local[,docker]
 *   nextflow run main.nf --help
 * Every process calls the `lambda-hat` CLI; config logic lives in Python only.
 * A failed build or run fails alone: its job gets status 'failed' in the results table with the
 * reason, the run goes on, and the exit status is non-zero. The store is the record of what is
 * done: a rerun (with -resume or without) reuses every finished target and run, and tries the
 * failed ones again.
 */
include { LLC } from './workflows/llc'
include { checkParams; closingSummary; codeVersion; helpText; ignoredPaths; lockFolder; outputFolders; paramsSummary; slurmProblems } from './workflows/utils'

workflow {
    main:
    def schema = file("${projectDir}/nextflow_schema.json")
    if( params.help ) {
        log.info helpText(schema)
        exit 0
    }
    checkParams( params, schema, workflow.commandLine )
    def problems = slurmProblems( params, workflow.profile )
    if( problems ) {
        error( problems.collect { line -> "error: ${line}" }.join('\n') )
    }
    def config = file(params.config)
    if( !config.exists() ) {
        error( "error: --config: no such file: ${params.config}" )
    }
    def outputs = outputFolders( params, workflow.stubRun )
    // one pipeline at a time writes into an output folder and a store
    def locks = [ outputs.outdir, outputs.store ].unique().collect { folder ->
        def lock = lockFolder( folder )
        if( lock == null ) {
            error( "error: another pipeline is writing to ${folder} now (its lock: ${folder}/.lambda-hat.lock); wait for it " +
                "to finish, or give this run another --outdir / --store" )
        }
        lock
    }
    def code = codeVersion( projectDir, workflow.manifest.version )
    file(params.compilation_cache).mkdirs()
    log.info "lambda-hat ${code}: sweep ${config}" + (workflow.stubRun ? " (stub run: outputs under ${outputs.outdir})" : '')
    log.info paramsSummary( params, schema, workflow )

    LLC ( config, code, params.promote, params.runs_per_task, outputs.store, !params.force && !workflow.stubRun )
    LLC.out.plan.subscribe { plan -> ignoredPaths(plan, params.store, params.outdir).each { line -> log.warn(line) } }
    // the software each process ran, inside its image (nf-core's software_versions.yml)
    LLC.out.versions.collectFile( name: 'software_versions.yml', storeDir: "${outputs.outdir}/pipeline_info", sort: true, newLine: true )
    LLC.out.summary
        .combine( LLC.out.counts )
        .subscribe { summary, counts_file ->
            def counts = new groovy.json.JsonSlurper().parseText(counts_file.text)
            log.info closingSummary( summary.text.trim(), counts, outputs.outdir )
            // failed rows leave their tasks completed: fail the run here, once the table (and the gallery) are written
            if( counts.failed ) {
                error( "${counts.failed} job(s) failed: see the table's 'error' column" )
            }
            locks*.release()
        }
}
