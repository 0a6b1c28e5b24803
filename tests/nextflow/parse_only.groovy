// Groovy 4 syntax check (parse to the CONVERSION phase) for files nf-lang does not read:
// nf-test specs and nf-test.config.   java -cp language-server-all.jar groovy.ui.GroovyMain parse_only.groovy FILE...
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

int failed = 0
args.each { name ->
    def unit = new CompilationUnit()
    unit.addSource(new File(name))
    try {
        unit.compile(Phases.CONVERSION)
    }
    catch( Exception error ) {
        println "${name}: ${error.message.readLines().take(3).join(' ')}"
        failed++
    }
}
println "parse-only: ${failed} of ${args.length} file(s) failed"
System.exit(failed ? 1 : 0)
