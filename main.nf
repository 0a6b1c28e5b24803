#!/usr/bin/env nextflow
/*
 * Lambda-Hat: LLC estimates for N targets x M samplers.
 *   nextflow run main.nf -profile slurm_a100 [-resume]
 *   nextflow run main.nf -profile test,local[,docker]
 * Every process calls the `lambda-hat` CLI; config logic lives in Python only.
 */
include { LLC } from './workflows/llc'

workflow {
    main:
    LLC ( file(params.config, checkIfExists: true), params.promote )
    LLC.out.results.view { table -> "results table: ${table}" }

    onComplete:
    log.info "Lambda-Hat ${workflow.success ? 'finished' : 'FAILED'} in ${workflow.duration}; " +
        "${workflow.stats.succeedCount} tasks ok, ${workflow.stats.ignoredCount} failed and ignored " +
        "(the NOTE lines above name them; rerun with -resume to retry only those)"
}
