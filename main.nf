#!/usr/bin/env nextflow
/*
 * Lambda-Hat: LLC estimates for N targets x M samplers.
 *   nextflow run main.nf -profile slurm_a100 [-resume]
 *   nextflow run main.nf -profile test,local[,docker]
 *   nextflow run main.nf --help
 * Every process calls the `lambda-hat` CLI; config logic lives in Python only.
 * A failed build or run fails alone: its job gets status 'failed' in the results table, the run
 * goes on, and the exit status is non-zero; -resume reruns failed tasks (a run that failed inside
 * a finished task, e.g. by diverging, fails the same way again until its spec changes).
 */
include { LLC                                  } from './workflows/llc'
include { checkParams; closingSummary; codeVersion; helpText; ignoredPaths; paramsSummary } from './workflows/utils'

workflow {
    main:
    def schema = file("${projectDir}/nextflow_schema.json")
    if( params.help ) {
        log.info helpText(schema)
        exit 0
    }
    checkParams( params, schema )
    def config = file(params.config, checkIfExists: true)
    def code = codeVersion( projectDir, workflow.manifest.version )
    file(params.compilation_cache).mkdirs()
    log.info "lambda-hat ${code}: sweep ${config}"
    log.info paramsSummary( params, schema, workflow )

    LLC ( config, code, params.promote, params.runs_per_task )
    LLC.out.plan.subscribe { plan -> ignoredPaths(plan, params.store, params.outdir).each { line -> log.warn(line) } }
    // the software each process ran, inside its image (nf-core's software_versions.yml)
    LLC.out.versions.collectFile( name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true, newLine: true )
    LLC.out.summary.view { summary -> closingSummary(summary.text.trim(), params.outdir) }
        // a run that failed inside its task (error.json) leaves the task completed: fail the run here,
        // once the table is written and published
        .filter { summary -> summary.text.contains('\nfailed: ') }
        .subscribe { _summary -> error("some jobs failed: see the table's 'error' column") }
}
