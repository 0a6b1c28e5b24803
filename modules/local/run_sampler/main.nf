process RUN_SAMPLER {
    tag "${meta.label ?: meta.id}"
    label 'process_gpu'
    cache 'deep'            // the specs are new files on every PLAN: hash them by content

    input:
    // meta.run_ids: the runs' IDs, in spec order; meta.retry: a digest of the records of their earlier
    // failures in the store, so that -resume draws a failed run again rather than replay its task
    tuple val(meta), path(target, stageAs: 'target/*'), path(specs, stageAs: 'specs/*')

    output:
    tuple val(meta), path("targets/${meta.target_id}/run_*", type: 'dir'), emit: run
    path "versions.yml"                                                 , emit: versions

    script:
    // one process for several runs of one target (start-up paid once); runs of one compiled program
    // are drawn as one batch. A run that fails writes its error.json and fails alone (--keep-going);
    // a task that fails otherwise records its failure for each of its runs; a task killed for
    // resources exits non-zero and is retried whole.
    def args = task.ext.args ?: ''
    def platform = task.ext.platform ? "--platform ${task.ext.platform}" : ''
    def spec_args = (specs instanceof List ? specs : [ specs ]).collect { spec -> "--spec ${spec}" }.join(' ')
    """
    lambda-hat-task --cpus ${task.cpus} ${platform} --code ${meta.code} --process ${task.process} --record-failure targets/${meta.target_id} --runs ${meta.run_ids.join(',')} sample --target target ${spec_args} --out targets/${meta.target_id} --no-lock --keep-going ${args}
    """

    stub:
    def names = meta.run_ids.collect { run -> "targets/${meta.target_id}/run_${run}" }.join(' ')
    """
    for run in ${names}; do
        mkdir -p \$run
        echo '{}' > \$run/analysis.json
        echo '{}' > \$run/sampler.json
        touch \$run/trace.npz
    done
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
