process BUILD_TARGET {
    tag "${meta.id}"
    label 'process_medium'
    cache 'deep'

    input:
    tuple val(meta), path(spec)

    output:
    tuple val(meta), path("store/targets/${meta.id}", type: 'dir'), emit: target

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} build --spec ${spec} --store store ${args}
    """

    stub:
    """
    mkdir -p store/targets/${meta.id}
    echo '{}' > store/targets/${meta.id}/meta.json
    touch store/targets/${meta.id}/params.npz store/targets/${meta.id}/data.npz
    """
}
