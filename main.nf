#!/usr/bin/env nextflow
/*
 * Lambda-Hat: LLC estimates for N targets x M samplers.
 *   nextflow run main.nf -profile slurm_a100 [-resume]
 *   nextflow run main.nf -profile test,local[,docker]
 * Every process calls the `lambda-hat` CLI; config logic lives in Python only.
 * A failed build or run fails alone: its job gets status 'failed' in the results table, the run
 * goes on, and the exit status is non-zero (workflow.failOnIgnore); -resume reruns exactly those.
 */
include { LLC                                  } from './workflows/llc'
include { checkParams; closingSummary; codeVersion } from './workflows/utils'

workflow {
    main:
    checkParams( params, file("${projectDir}/nextflow_schema.json") )
    def config = file(params.config, checkIfExists: true)
    def code = codeVersion( projectDir, workflow.manifest.version )
    file(params.compilation_cache).mkdirs()
    log.info "lambda-hat ${code}: sweep ${config}"

    LLC ( config, code, params.promote )
    LLC.out.summary.view { summary -> closingSummary(summary.text.trim(), params.outdir) }
}
