process COLLECT {
    tag "${plan.name}"
    label 'process_single'

    input:
    path plan      // plan.json: every planned job gets a row, failed ones included
    path runs      // run_<run_id> folders of the finished runs (run ids are unique, so they never collide)
    val built      // IDs of the targets that were built
    val code       // the code version the pipeline hashed

    output:
    path "llc_runs.parquet", emit: results
    path "collect.txt"     , emit: summary
    path "versions.yml"    , emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} --code ${code} --process ${task.process} collect --plan ${plan} --built '${built.join(',')}' \\
        --missing 'its RUN_SAMPLER task failed: the NOTE line for it in the Nextflow log names its work folder (.command.err)' \\
        --out llc_runs.parquet ${args} ${runs} > collect.txt
    cat collect.txt
    """

    stub:
    """
    touch llc_runs.parquet
    echo "stub: no rows" > collect.txt
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
