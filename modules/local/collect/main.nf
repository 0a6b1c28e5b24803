process COLLECT {
    tag "${runs.size()} runs"
    label 'process_single'

    input:
    path runs      // run_<run_id> folders (run ids are unique, so they never collide)

    output:
    path "llc_runs.parquet", emit: results

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} collect --out llc_runs.parquet ${args} ${runs}
    """

    stub:
    """
    touch llc_runs.parquet
    """
}
