process BUILD_TARGET {
    tag "${meta.label ?: meta.id}"
    label 'process_medium'
    cache 'deep'            // the spec is a new file on every PLAN: hash it by content

    input:
    // the user's files this target reads, each or [] where none: a data file, a model file, a checkpoint
    tuple val(meta), path(spec), path(data_file, stageAs: 'inputs/data/*'), path(model_file, stageAs: 'inputs/model/*'),
          path(checkpoint, stageAs: 'inputs/checkpoint/*')

    output:
    // the target's files (meta.json, params.npz, data.npz, and model.py for a model file), or the
    // error.json of a failed build;
    // files, not the folder: published into the store, they never replace its run_* folders
    tuple val(meta), path("targets/${meta.id}/*"), emit: target
    path "versions.yml"                           , emit: versions

    script:
    // a build that fails (bad data, training that diverges, a broken task) leaves its error.json, which
    // the store keeps and the table shows; a kill by a signal fails the task (retried for resources)
    def args = task.ext.args ?: ''
    def files = [ data_file ? "--data-file ${data_file}" : '', model_file ? "--model-file ${model_file}" : '',
                  checkpoint ? "--checkpoint ${checkpoint}" : '' ].join(' ')
    """
    lambda-hat-task --cpus ${task.cpus} --code ${meta.code} --process ${task.process} --record-failure targets/${meta.id} build --spec ${spec} --store . --no-lock ${files} ${args}
    """

    stub:
    """
    mkdir -p targets/${meta.id}
    echo '{}' > targets/${meta.id}/meta.json
    touch targets/${meta.id}/params.npz targets/${meta.id}/data.npz
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
