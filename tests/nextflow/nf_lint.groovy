// Static check of every *.nf and *.config file with the Nextflow language front end (nf-lang),
// the same parser and analysis `nextflow lint` runs, plus config options checked against
// Nextflow's own option spec.
//   java -cp language-server-all.jar groovy.ui.GroovyMain nf_lint.groovy DIR_OR_FILE...
// Prints `path:line:col: error|warning: message`; exits 1 when any error is found.
import groovy.io.FileType
import nextflow.config.control.ConfigParser
import nextflow.lsp.services.config.ConfigSpecVisitor
import nextflow.lsp.spec.PluginSpecCache
import nextflow.script.control.ScriptParser
import org.codehaus.groovy.control.SourceUnit
import org.codehaus.groovy.control.messages.SyntaxErrorMessage

def skipped = ['.git', '.venv', '.cache', '.nf-test', 'work', 'results', 'runs', '.nextflow', 'node_modules'] as Set
def root = new File('.').canonicalFile.toPath()
def shown = { String uri ->
    def path = new File(URI.create(uri).path ?: uri).toPath()
    path.startsWith(root) ? root.relativize(path).toString() : uri
}

def scripts = new ScriptParser()
def configs = new ConfigParser()
def visit = { File file ->
    def path = file.toPath()
    def inside = path.startsWith(root) ? root.relativize(path) : path
    if( inside.any { skipped.contains(it.toString()) } || file.name == 'nf-test.config' ) return
    if( file.name.endsWith('.nf') ) scripts.parse(file)
    else if( file.name.endsWith('.config') ) configs.parse(file)
}
args.each { arg ->
    def file = new File(arg).canonicalFile
    file.isDirectory() ? file.eachFileRecurse(FileType.FILES, visit) : visit(file)
}
scripts.analyze()
configs.analyze()

// config options against the spec bundled in the jar; offline, so no plugin registry
def stderr = System.err
System.setErr(new PrintStream(OutputStream.nullOutputStream()))
try {
    configs.compiler().getSources().values().each { SourceUnit source ->
        if( source.getAST() )
            new ConfigSpecVisitor(source, new PluginSpecCache('http://127.0.0.1:9/'), false).visit()
    }
}
finally {
    System.setErr(stderr)
}

int errors = 0
int warnings = 0
int files = 0
[scripts.compiler(), configs.compiler()].each { compiler ->
    compiler.getSources().values().sort { it.getName() }.each { SourceUnit source ->
        files++
        def collector = source.getErrorCollector()
        collector.getErrors()?.each { message ->
            if( message instanceof SyntaxErrorMessage ) {
                def cause = message.getCause()
                println "${shown(source.getName())}:${cause.getStartLine()}:${cause.getStartColumn()}: error: ${cause.getOriginalMessage()}"
                errors++
            }
        }
        collector.getWarnings()?.each { warning ->
            if( warning.getClass().getSimpleName() == 'ParanoidWarning' ) return
            def token = warning.getContext()
            println "${shown(source.getName())}:${token?.getStartLine()}:${token?.getStartColumn()}: warning: ${warning.getMessage()}"
            warnings++
        }
    }
}
println "nf-lint: ${errors} error(s), ${warnings} warning(s) in ${files} file(s)"
System.exit(errors ? 1 : 0)
