process BUILD_TARGET {
    tag "${meta.label ?: meta.id}"
    label 'process_medium'
    cache 'deep'            // the spec is a new file on every PLAN: hash it by content

    input:
    tuple val(meta), path(spec), path(data_file)    // data_file: the user's .npz, or [] for generated data

    output:
    // the target's files (meta.json, params.npz, data.npz), or the error.json of a failed build;
    // files, not the folder: published into the store, they never replace its run_* folders
    tuple val(meta), path("targets/${meta.id}/*"), emit: target
    path "versions.yml"                           , emit: versions

    script:
    // a build that fails (bad data, training that diverges, a broken task) leaves its error.json, which
    // the store keeps and the table shows; a kill by a signal fails the task (retried for resources)
    def args = task.ext.args ?: ''
    def data = data_file ? "--data-file ${data_file}" : ''
    """
    lambda-hat-task --cpus ${task.cpus} --code ${meta.code} --process ${task.process} --record-failure targets/${meta.id} build --spec ${spec} --store . --no-lock ${data} ${args}
    """

    stub:
    """
    mkdir -p targets/${meta.id}
    echo '{}' > targets/${meta.id}/meta.json
    touch targets/${meta.id}/params.npz targets/${meta.id}/data.npz
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
