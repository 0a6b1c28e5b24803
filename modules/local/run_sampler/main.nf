process RUN_SAMPLER {
    tag "${meta.label ?: meta.id}"
    label 'process_gpu'
    cache 'deep'            // the spec is a new file on every PLAN: hash it by content

    input:
    tuple val(meta), path(target), path(spec)

    output:
    tuple val(meta), path("targets/${meta.target_id}/run_*", type: 'dir'), emit: run

    script:
    def args = task.ext.args ?: ''
    def platform = task.ext.platform ? "--platform ${task.ext.platform}" : ''
    """
    lambda-hat-task --cpus ${task.cpus} ${platform} sample --target ${target} --spec ${spec} --out targets/${meta.target_id} --no-lock ${args}
    """

    stub:   // the folder name must differ between targets: COLLECT stages every run side by side
    def run = "targets/${meta.target_id}/run_stub_${meta.target_id}_${meta.sampler_id}"
    """
    mkdir -p ${run}
    echo '{}' > ${run}/analysis.json
    echo '{}' > ${run}/sampler.json
    touch ${run}/trace.npz
    """
}
