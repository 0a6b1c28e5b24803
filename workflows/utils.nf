/*
 * Pipeline helpers for the entry workflow: parameter checks against nextflow_schema.json (the
 * nf-schema plugin is not used: plugins need a registry) and the code version that goes into
 * every task's hash.
 */

// Every parameter must be declared in the schema and have its type; one line per problem.
def checkParams(Map given, Path schemaFile) {
    def schema = new groovy.json.JsonSlurper().parseText(schemaFile.text)
    def known = [:]
    schema['$defs'].each { _group, definition -> known.putAll(definition.properties) }
    // `--gpu-partition` may reach params as `gpu-partition` and its twin `gpuPartition`: report it once
    def twins = given.keySet().findAll { key -> key.contains('-') }.collect { key -> key.replaceAll(/-(\w)/) { _all, c -> c.toUpperCase() } }
    def problems = []
    given.each { key, value ->
        if( known.containsKey(key) ) {
            def problem = typeProblem(key, value, known[key])
            if( problem ) {
                problems << problem
            }
        }
        else if( !twins.contains(key) ) {
            problems << "unknown parameter --${typedName(key)}" + suggestion(key, known.keySet())
        }
    }
    if( problems ) {
        error( problems.collect { line -> "error: ${line}" }.join('\n') )
    }
}

// Nextflow turns `--gpu-partition` into the key `gpuPartition`: show it as it was most likely typed
def typedName(String key) {
    return key.replaceAll(/([a-z0-9])([A-Z])/) { _all, before, upper -> "${before}-${upper.toLowerCase()}" }
}

def plainName(String name) {
    return name.toLowerCase().replaceAll(/[-_]/, '')
}

def typeProblem(String key, value, Map rule) {
    def types = rule.type instanceof List ? rule.type : [ rule.type ]
    if( value == null ) {
        return types.contains('null') ? null : "--${key}: a value is required"
    }
    if( types.contains('boolean') && !(value instanceof Boolean) ) {
        return "--${key}: expected true or false, got '${value}'"
    }
    if( types.contains('integer') && !(value instanceof Integer || value instanceof Long) ) {
        return "--${key}: expected an integer, got '${value}'"
    }
    if( types.contains('integer') && rule.minimum != null && value < rule.minimum ) {
        return "--${key}: must be at least ${rule.minimum}, got ${value}"
    }
    if( types.contains('string') && value instanceof Boolean ) {
        return "--${key}: expected a value (--${key} VALUE)"
    }
    if( rule['enum'] && !rule['enum'].contains(value.toString()) ) {
        return "--${key}: expected one of ${rule['enum'].join(', ')}, got '${value}'"
    }
    return null
}

def suggestion(String key, Collection names) {
    def match = names.find { name -> plainName(name) == plainName(key) }
    if( match ) {
        return "; did you mean --${match}?"
    }
    return " (known: ${names.sort().collect { name -> '--' + name }.join(', ')})"
}

// The package version and a digest of its source: a change of code reruns the builds and runs
// under -resume even where the container tag stays the same.
def codeVersion(Path root, String version) {
    def sources = files("${root}/lambda_hat/**.{py,yaml}").sort { source -> source.toString() }
    def text = sources.collect { source -> root.relativize(source).toString() + '\n' + source.text }.join('\n')
    return "${version}+${text.md5().take(12)}"
}

// Readable task tags from the plan's spec files: `tgt_… (model/data/teacher)` and the sampler's label
def targetLabel(Path spec) {
    def labels = new groovy.json.JsonSlurper().parseText(spec.text).labels ?: [:]
    return "${spec.baseName} (${labels.values().join('/')})".toString()
}

// a task's label: its first sampler's name, and how many more runs it holds
def taskLabel(List specs) {
    def first = new groovy.json.JsonSlurper().parseText(specs[0].text).name ?: specs[0].baseName
    return specs.size() > 1 ? "${first} +${specs.size() - 1}" : first
}

// The sweep file's own store_root and results, where they differ from where this pipeline writes
// (--store and --outdir): one warning each, since the pipeline does not follow them
def ignoredPaths(Path plan, String store, String outdir) {
    def summary = new groovy.json.JsonSlurper().parseText(plan.text)
    def used = [ store_root: [ store, '--store' ], results: [ "${outdir}/llc_runs.parquet".toString(), '--outdir' ] ]
    return (summary.paths_given ?: []).findAll { key -> summary[key] != used[key][0] }.collect { key ->
        "the sweep file sets ${key}: ${summary[key]}, but under Nextflow it is ${used[key][0]} (set by ${used[key][1]}); " +
            "the sweep file's value is not used".toString()
    }
}

// COLLECT's summary, and what to do about failed and suspect jobs
def closingSummary(String summary, String outdir) {
    def lines = [ summary, "results: ${outdir}/llc_runs.parquet" ]
    if( summary.contains('\nsuspect: ') ) {
        lines << "Suspect jobs have an estimate whose own diagnostics say it cannot be trusted (the reasons are in the " +
            "'warnings' column); rerun them with more draws or other settings."
    }
    if( summary.contains('\nfailed: ') ) {
        lines << "Failed jobs have status 'failed' and the reason in the 'error' column; for a task that failed whole, " +
            "the NOTE lines above name its work folder (.command.err). Fix the cause, then rerun the same command " +
            "with -resume: failed tasks and the tasks of changed jobs run again."
    }
    return lines.join('\n')
}

// `--help`: every parameter of the schema, by group, with its type, default and description
def helpText(Path schemaFile) {
    def schema = new groovy.json.JsonSlurper().parseText(schemaFile.text)
    def lines = [ "${schema.title}", '', 'Usage:', '  nextflow run main.nf -profile <test,local|local,docker|slurm_a100|slurm_cpu> [--param value ...] [-resume]', '' ]
    schema['$defs'].each { _group, definition ->
        def shown = definition.properties.findAll { _name, rule -> !rule.hidden }
        if( !shown ) {
            return
        }
        lines << "${definition.title}:"
        shown.each { name, rule ->
            def type = rule.type instanceof List ? rule.type.findAll { t -> t != 'null' }.join('|') : rule.type
            def fallback = rule.containsKey('default') ? " (default: ${rule['default']})" : ''
            lines << "  --${name.padRight(20)} ${"[${type}]".padRight(10)} ${rule.description}${fallback}".toString()
        }
        lines << ''
    }
    lines << 'Docs: README.md, docs/cluster.md (profiles, failures, -resume), docs/containers.md (images).'
    return lines.join('\n')
}

// the run's settings at start, as nf-core prints them: the core options, then every parameter by group
def paramsSummary(Map given, Path schemaFile, workflow) {
    def schema = new groovy.json.JsonSlurper().parseText(schemaFile.text)
    def core = [ profile: workflow.profile, containerEngine: workflow.containerEngine ?: 'none (the tasks\' environment)',
                 launchDir: workflow.launchDir, workDir: workflow.workDir, runName: workflow.runName ]
    def lines = [ 'Core Nextflow options' ] + core.collect { name, value -> "  ${name.padRight(20)}: ${value}".toString() }
    schema['$defs'].each { _group, definition ->
        def shown = definition.properties.findAll { _name, rule -> !rule.hidden }
        if( shown ) {
            lines << definition.title
            shown.each { name, _rule -> lines << "  ${name.padRight(20)}: ${given[name]}".toString() }
        }
    }
    return lines.join('\n')
}
