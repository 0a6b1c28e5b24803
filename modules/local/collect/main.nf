process COLLECT {
    tag "${plan.name}"
    label 'process_single'

    input:
    path plan                                  // plan.json: every planned job gets a row, failed ones included
    path runs                                  // run_<run_id> folders, new and reused (run ids are unique)
    path failed_targets, stageAs: 'targets/*'  // the folders (an error.json each) of targets whose build failed
    val built                                  // IDs of the targets that were built
    val code                                   // the code version the pipeline hashed

    output:
    path "llc_runs.parquet", emit: results
    path "collect.txt"     , emit: summary
    path "counts.json"     , emit: counts
    path "versions.yml"    , emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} --code ${code} --process ${task.process} collect --plan ${plan} --store . --built '${built.join(',')}' \\
        --missing 'its RUN_SAMPLER task was killed, or could not start, without a record of its own: the NOTE line for it in the Nextflow log names its exit status and work folder (.command.err); -resume runs it again' \\
        --counts counts.json --out llc_runs.parquet ${args} ${runs} > collect.txt
    cat collect.txt
    """

    stub:
    """
    touch llc_runs.parquet
    echo "stub: no rows" > collect.txt
    echo '{"ok": 0, "suspect": 0, "failed": 0}' > counts.json
    echo '"${task.process}": { stub: true }' > versions.yml
    """
}
