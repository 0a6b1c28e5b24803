process PROMOTE {
    tag "gallery"
    label 'process_single'

    input:
    path results
    path runs      // run_<run_id> folders

    output:
    path "gallery", emit: gallery

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} promote --results ${results} --out gallery ${args} ${runs}
    """

    stub:
    """
    mkdir -p gallery
    touch gallery/index.html gallery/summary.md
    """
}
