/*
 * Pipeline helpers for the entry workflow: parameter checks against nextflow_schema.json (the
 * nf-schema plugin is not used: plugins need a registry) and the code version that goes into
 * every task's hash.
 */

// Every parameter must be declared in the schema and have its type; one line per problem.
def checkParams(Map given, Path schemaFile, String commandLine) {
    def schema = new groovy.json.JsonSlurper().parseText(schemaFile.text)
    def known = [:]
    schema['$defs'].each { _group, definition -> known.putAll(definition.properties) }
    def problems = []
    given.each { key, value ->
        if( known.containsKey(key) ) {
            def problem = typeProblem(key, value, known[key])
            if( problem ) {
                problems << problem
            }
        }
        else {
            def name = typedName(key, commandLine)
            problems << "unknown parameter --${name}" + suggestion(name, known.keySet())
        }
    }
    if( problems ) {
        error( problems.collect { line -> "error: ${line}" }.join('\n') )
    }
}

// Nextflow turns `--gpu-partition` into the key `gpuPartition`: the name as the command line has it
def typedName(String key, String commandLine) {
    def kebab = key.replaceAll(/([a-z0-9])([A-Z])/) { _all, before, upper -> "${before}-${upper.toLowerCase()}" }
    def typed = (commandLine ?: '').tokenize(' ').any { word -> word == "--${kebab}" || word.startsWith("--${kebab}=") }
    return kebab != key && typed ? kebab : key
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
    if( rule.pattern && !(value.toString() ==~ rule.pattern) ) {
        return "--${key}: expected ${rule.errorMessage ?: "a value matching ${rule.pattern}"}, got '${value}'"
    }
    return null
}

// the closest known name (same letters, or at most two edits away), else the list of all
def suggestion(String key, Collection names) {
    def match = names.find { name -> plainName(name) == plainName(key) } ?:
        names.findAll { name -> editDistance(plainName(name), plainName(key)) <= 2 }
             .min { name -> editDistance(plainName(name), plainName(key)) }
    if( match ) {
        return "; did you mean --${match}?"
    }
    return " (known: ${names.sort().collect { name -> '--' + name }.join(', ')})"
}

def editDistance(String a, String b) {
    def previous = (0..b.length()).toList()
    a.eachWithIndex { char_a, i ->
        def current = [ i + 1 ]
        b.eachWithIndex { char_b, j ->
            current << [ previous[j + 1] + 1, current[j] + 1, previous[j] + (char_a == char_b ? 0 : 1) ].min()
        }
        previous = current
    }
    return previous[b.length()]
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
def closingSummary(String summary, Map counts, String outdir) {
    def lines = [ summary, "results: ${outdir}/llc_runs.parquet" ]
    if( counts.suspect ) {
        lines << "Suspect jobs have an estimate whose own diagnostics say it cannot be trusted (the reasons are in the " +
            "'warnings' column); rerun them with more draws or other settings."
    }
    if( counts.failed ) {
        lines << "Failed jobs have status 'failed' and the reason in the 'error' column. Fix the cause, then rerun the " +
            "same command (with -resume, or without): failed builds and runs are tried again, and every target and " +
            "run the store holds finished is reused, never drawn again."
    }
    return lines.join('\n')
}

// Where a run publishes: --outdir and --store, or, for a stub run, a folder of their own under
// --outdir (a stub run never touches real results); the same rule as conf/modules.config
def outputFolders(Map given, boolean stub) {
    return stub ? [ outdir: "${given.outdir}/stub-run".toString(), store: "${given.outdir}/stub-run/store".toString() ]
                : [ outdir: given.outdir.toString(), store: given.store.toString() ]
}

// The store's targets and runs: a finished one, made by this code, is reused
def runIds(Path plan) {
    def ids = [:]
    new groovy.json.JsonSlurper().parseText(plan.text).jobs.each { job -> ids.get(job.target_id, [:])[job.sampler_id] = job.run_id }
    return ids
}

// whether an artifact's marker JSON (meta.json, analysis.json) is there, whole, and written by this code
def finishedBy(Path marker, List keys, String code) {
    if( !marker.exists() ) {
        return false
    }
    try {
        def document = new groovy.json.JsonSlurper().parseText(marker.text)
        return document instanceof Map && keys.every { key -> document.containsKey(key) } && document.code_version == code
    }
    catch( Exception _unreadable ) {
        return false
    }
}

// a digest of the failure records (error.json) among these folders ('' where none): part of a task's
// hash, so that a build or run that failed is tried again by -resume rather than replayed
def failureDigest(List folders) {
    def records = folders.collect { folder -> folder.resolve('error.json') }.findAll { record -> record.exists() }
    return records ? records.collect { record -> record.text }.join('\n').md5() : ''
}

// [ files: the target's files, where the store holds it finished (else []), retry: failureDigest ]
def storedTarget(Path folder, String code, boolean reuse) {
    def files = [ 'meta.json', 'params.npz', 'data.npz' ].collect { name -> folder.resolve(name) }
    if( reuse && files.every { target_file -> target_file.exists() } &&
            finishedBy(folder.resolve('meta.json'), [ 'target_id', 'n', 'd', 'spec' ], code) ) {
        def copy = folder.resolve('model.py')          // a model file's copy, read by the target's runs
        return [ files: files + (copy.exists() ? [ copy ] : []), retry: '' ]
    }
    return [ files: [], retry: failureDigest([ folder ]) ]
}

// [ done: run folders the store holds finished, todo: the specs of the other runs, retry: failureDigest ]
def storedRuns(Path target, List specs, Map runIds, String code, boolean reuse) {
    def folders = specs.collectEntries { spec -> [ (spec): target.resolve("run_${runIds[spec.baseName.replaceFirst(/^\d+_/, '')]}") ] }
    def done = specs.findAll { spec ->
        reuse && finishedBy(folders[spec].resolve('analysis.json'), [ 'target_id', 'run_id', 'llc_mean', 'llc_sem' ], code)
    }
    def todo = specs - done
    return [ done: done.collect { spec -> folders[spec] }, todo: todo, retry: failureDigest(todo.collect { spec -> folders[spec] }) ]
}

// Only one pipeline at a time publishes into a folder: an exclusive lock on <folder>/.lambda-hat.lock,
// held until this Nextflow process ends (or null where another holds it)
def lockFolder(String folder) {
    def path = file(folder)
    path.mkdirs()
    def handle = new RandomAccessFile(path.resolve('.lambda-hat.lock').toFile(), 'rw')
    def lock = handle.getChannel().tryLock()
    if( lock == null ) {
        handle.close()
    }
    return lock
}

// On SLURM: a partition whose largest node is smaller than what a task may ask for (--max_cpus,
// --max_memory, --max_time) would leave such a task PENDING forever; one line per problem
def slurmProblems(Map given, String profile) {
    if( !(profile ?: '').tokenize(',').any { name -> name.startsWith('slurm') } ) {
        return []
    }
    def partitions = ([ given.cpu_partition ] + (given.gpu ? [ given.gpu_partition ] : [])).unique()
    def problems = []
    partitions.each { partition ->
        def command = [ 'sinfo', '-h', '-N', '-p', partition.toString(), '-o', '%c %m %l' ]
        def nodes
        try {
            def process = command.execute()
            process.waitFor()
            nodes = process.exitValue() == 0 ? process.text.readLines()*.trim().findAll { line -> line } : null
        }
        catch( IOException _missing ) {
            nodes = null
        }
        if( nodes == null ) {
            return                            // no sinfo here: SLURM itself will say what it refuses
        }
        if( !nodes ) {
            problems << "partition '${partition}' has no nodes (sinfo -p ${partition}); set --cpu_partition / --gpu_partition"
            return
        }
        def cpus = nodes.collect { line -> line.tokenize(' ')[0].replaceAll(/\D/, '').toLong() }.max()
        def megabytes = nodes.collect { line -> line.tokenize(' ')[1].replaceAll(/\D/, '').toLong() }.max()
        def hours = nodes.collect { line -> slurmHours(line.tokenize(' ')[2]) }.max()
        def asked = memoryMegabytes(given.max_memory.toString())
        if( given.max_cpus > cpus ) {
            problems << "--max_cpus ${given.max_cpus}: the largest node of partition '${partition}' has ${cpus} CPUs, so a task " +
                "asking for more would stay PENDING forever; set --max_cpus ${cpus}"
        }
        if( asked > megabytes ) {
            problems << "--max_memory ${given.max_memory}: the largest node of partition '${partition}' has ${megabytes} MB, so a " +
                "task asking for more would stay PENDING forever; set --max_memory '${(megabytes / 1024).toLong()}.GB'"
        }
        if( hours != null && durationHours(given.max_time.toString()) > hours ) {
            problems << "--max_time ${given.max_time}: partition '${partition}' allows ${hours} h at most, so a task asking for " +
                "more would stay PENDING forever; set --max_time '${hours.toLong()}.h'"
        }
    }
    return problems
}

def memoryMegabytes(String text) {
    def parts = (text =~ /^(\d+(?:\.\d+)?)\.?\s*([KMGT]?)B$/)[0]
    return (parts[1].toDouble() * [ '': 1 / 1048576, K: 1 / 1024, M: 1, G: 1024, T: 1048576 ][parts[2]]).toLong()
}

def durationHours(String text) {
    return (text =~ /(\d+(?:\.\d+)?)\.?\s*(ms|s|m|h|d)/).collect { match ->
        match[1].toDouble() * [ ms: 1 / 3600000, s: 1 / 3600, m: 1 / 60, h: 1, d: 24 ][match[2]]
    }.sum()
}

// sinfo's time limit ([days-]hours:minutes:seconds, or infinite) in hours; null where unlimited
def slurmHours(String limit) {
    if( !(limit ==~ /(\d+-)?\d+(:\d+){0,2}/) ) {
        return null
    }
    def days = limit.contains('-') ? limit.tokenize('-')[0].toDouble() : 0
    def clock = limit.tokenize('-')[-1].tokenize(':')*.toDouble()
    def hours = clock.size() == 3 ? clock[0] + clock[1] / 60 + clock[2] / 3600 : (clock.size() == 2 ? clock[0] / 60 + clock[1] / 3600 : clock[0] / 60)
    return days * 24 + hours
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
