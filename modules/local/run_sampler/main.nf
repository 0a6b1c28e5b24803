process RUN_SAMPLER {
    tag "${meta.id}"
    label 'process_gpu'
    cache 'deep'

    input:
    tuple val(meta), path(target), path(spec)

    output:
    tuple val(meta), path("run_*", type: 'dir'), emit: run

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} sample --target ${target} --spec ${spec} --out . ${args}
    """

    stub:
    """
    mkdir -p run_${meta.sampler_id}
    echo '{}' > run_${meta.sampler_id}/analysis.json
    echo '{}' > run_${meta.sampler_id}/sampler.json
    touch run_${meta.sampler_id}/trace.npz
    """
}
