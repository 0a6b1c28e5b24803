process PLAN {
    tag "${config_name}"
    label 'process_single'

    input:
    path config_dir
    val config_name

    output:
    path "plan/targets/tgt_*.json" , emit: targets
    path "plan/samplers/smp_*.json", emit: samplers
    path "plan/plan.json"          , emit: summary

    script:
    def args = task.ext.args ?: ''
    """
    lambda-hat-task --cpus ${task.cpus} plan --config ${config_dir}/${config_name} --out plan ${args}
    """

    stub:
    """
    mkdir -p plan/targets plan/samplers
    echo '{"target_id": "tgt_stub00000000", "spec": {}}' > plan/targets/tgt_stub00000000.json
    echo '{"sampler_id": "smp_stub00000000", "name": "stub", "spec": {}}' > plan/samplers/smp_stub00000000.json
    echo '{}' > plan/plan.json
    """
}
