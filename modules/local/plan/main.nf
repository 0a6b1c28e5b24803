process PLAN {
    tag "${config_name}"
    label 'process_single'
    // never cached: planning takes seconds and must see the sweep file, its presets and data files
    // as they are now; the specs it writes are hashed by content downstream (cache 'deep')
    cache false

    input:
    path config_dir     // the sweep file's folder: user presets/ and data files travel with it
    val config_name
    val runs_per_task   // sampler runs per RUN_SAMPLER task
    val code            // the code version the pipeline hashed: the task checks it runs that code

    output:
    path "plan/targets/tgt_*.json" , emit: targets
    path "plan/tasks/tsk_*"        , emit: tasks, type: 'dir'   // one folder of sampler specs per task
    path "plan/plan.json"          , emit: summary
    path "plan/inputs.csv"         , emit: inputs
    path "plan"                    , emit: folder, type: 'dir'  // published whole: no stale task folders of earlier plans
    path "versions.yml"            , emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} --code ${code} --process ${task.process} plan --config ${config_dir}/${config_name} --out plan --inputs plan/inputs.csv --runs-per-task ${runs_per_task} ${args}
    """

    stub:   // planning is cheap and computes nothing: a stub run plans for real, so it fans out the true N x M
    """
    lambda-hat-task --cpus ${task.cpus} --code ${code} --process ${task.process} plan --config ${config_dir}/${config_name} --out plan --inputs plan/inputs.csv --runs-per-task ${runs_per_task}
    """
}
