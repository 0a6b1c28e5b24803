process BUILD_TARGET {
    tag "${meta.label ?: meta.id}"
    label 'process_medium'
    cache 'deep'            // the spec is a new file on every PLAN: hash it by content

    input:
    tuple val(meta), path(spec), path(data_file)    // data_file: the user's .npz, or [] for generated data

    output:
    tuple val(meta), path("targets/${meta.id}", type: 'dir'), emit: target
    path "versions.yml"                                       , emit: versions

    script:
    def args = task.ext.args ?: ''
    def data = data_file ? "--data-file ${data_file}" : ''
    """
    lambda-hat-task --cpus ${task.cpus} --code ${meta.code} --process ${task.process} build --spec ${spec} --store . --no-lock ${data} ${args}
    """

    stub:
    """
    mkdir -p targets/${meta.id}
    echo '{}' > targets/${meta.id}/meta.json
    touch targets/${meta.id}/params.npz targets/${meta.id}/data.npz
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
