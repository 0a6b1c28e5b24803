process PROMOTE {
    tag "gallery"
    label 'process_single'

    input:
    path results
    path runs      // run_<run_id> folders
    val code       // the code version the pipeline hashed

    output:
    path "gallery"     , emit: gallery
    path "versions.yml", emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} --code ${code} --process ${task.process} promote --results ${results} --out gallery ${args} ${runs}
    """

    stub:
    """
    mkdir -p gallery
    touch gallery/index.html gallery/summary.md
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
