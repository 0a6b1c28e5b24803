// Wiring checks that nf-lang leaves to run time, on the AST of the same front end:
//   - a process or workflow called with the wrong number of inputs
//   - X.out.NAME where NAME is not one of X's emits
//   - a process or workflow called twice in one block (needs an alias)
//   - unknown channel factories (channel.fromLis) and operators (.combin) on channel expressions
//   - `withName:` selectors in *.config files that match no process
//   java -cp language-server-all.jar groovy.ui.GroovyMain nf_wiring.groovy main.nf   (follows includes)
import nextflow.script.ast.ASTUtils
import nextflow.script.ast.ProcessNode
import nextflow.script.ast.ProcessNodeV1
import nextflow.script.ast.ScriptNode
import nextflow.script.ast.WorkflowNode
import nextflow.script.control.ScriptParser
import org.codehaus.groovy.ast.ClassCodeVisitorSupport
import org.codehaus.groovy.ast.MethodNode
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.ast.stmt.BlockStatement
import org.codehaus.groovy.ast.stmt.ExpressionStatement
import org.codehaus.groovy.control.SourceUnit

def parser = new ScriptParser()
def entry = new File(args[0]).canonicalFile
parser.parse(entry)
parser.analyze()
def root = entry.parentFile.toPath()
def shown = { String uri -> def p = new File(URI.create(uri).path ?: uri).toPath(); p.startsWith(root) ? root.relativize(p).toString() : uri }
def problems = [] as LinkedHashSet

def operators = (nextflow.script.types.Channel.methods*.name + nextflow.script.types.Value.methods*.name) as Set
def factories = nextflow.script.namespaces.ChannelNamespace.methods*.name as Set

def emitsOf = { MethodNode node ->
    if( node instanceof ProcessNodeV1 )
        return ASTUtils.asDirectives(node.outputs).toList().collect { call ->
            ASTUtils.asNamedArgs(call).find { it.keyExpression.text == 'emit' }?.valueExpression?.text }.findAll()
    if( node instanceof WorkflowNode )
        return ASTUtils.asBlockStatements(node.emits).collect { statement ->
            def expression = (statement as ExpressionStatement).expression
            expression instanceof BinaryExpression ? expression.leftExpression.text : expression.text }
    return null
}

def processNames = [] as Set
parser.compiler().getSources().values().each { SourceUnit source ->
    def script = source.getAST() as ScriptNode
    if( script == null ) return
    def callable = [:]
    script.getProcesses().each { callable[it.name] = it; processNames << it.name }
    script.getWorkflows().findAll { !it.isEntry() }.each { callable[it.name] = it }
    script.getIncludes().each { include -> include.entries.each { item ->
        def target = item.getTarget()
        if( target instanceof ProcessNode || target instanceof WorkflowNode ) callable[item.getNameOrAlias()] = target
        if( target instanceof ProcessNode ) processNames << item.getNameOrAlias()
    } }
    (script.getWorkflows() + [script.getEntry()]).findAll().each { WorkflowNode workflow ->
        def channels = [] as Set
        def isChannel
        isChannel = { Expression e ->
            switch( e ) {
                case VariableExpression: return channels.contains(e.name)
                case MethodCallExpression:
                    if( e.isImplicitThis() ) return callable.containsKey(e.methodAsString)
                    def receiver = e.objectExpression
                    if( receiver instanceof VariableExpression && receiver.name in ['channel', 'Channel'] ) return true
                    return operators.contains(e.methodAsString) && isChannel(receiver)
                case PropertyExpression:
                    def owner = e.objectExpression
                    if( e.propertyAsString == 'out' && owner instanceof VariableExpression && callable.containsKey(owner.name) ) return true
                    if( owner instanceof VariableExpression && channels.contains(owner.name) ) return true   // a branch's output
                    return owner instanceof PropertyExpression && owner.propertyAsString == 'out' && isChannel(owner)
                default: return false
            }
        }
        def blocks = [[] as Set]
        def visitor = new ClassCodeVisitorSupport() {
            protected SourceUnit getSourceUnit() { source }
            void visitBlockStatement(BlockStatement block) {
                blocks.add([] as Set); super.visitBlockStatement(block); blocks.remove(blocks.size() - 1)
            }
            void visitBinaryExpression(BinaryExpression e) {
                super.visitBinaryExpression(e)
                if( e.operation.text == '=' && e.leftExpression instanceof VariableExpression && isChannel(e.rightExpression) )
                    channels << e.leftExpression.name
            }
            void visitMethodCallExpression(MethodCallExpression call) {
                def where = "${shown(source.name)}:${call.lineNumber}"
                def receiver = call.objectExpression
                if( !call.isImplicitThis() ) {
                    if( receiver instanceof VariableExpression && receiver.name in ['channel', 'Channel'] ) {
                        if( !factories.contains(call.methodAsString) ) problems << "${where}: unknown channel factory `${receiver.name}.${call.methodAsString}`"
                    }
                    else if( isChannel(receiver) && !operators.contains(call.methodAsString) )
                        problems << "${where}: unknown channel operator `.${call.methodAsString}`"
                }
                else if( callable.containsKey(call.methodAsString) ) {
                    def target = callable[call.methodAsString]
                    def expected = target.parameters?.length ?: 0
                    def given = ASTUtils.asMethodCallArguments(call).size()
                    if( given != expected ) problems << "${where}: `${call.methodAsString}` takes ${expected} input(s), called with ${given}"
                    if( !blocks.last().add(call.methodAsString) ) problems << "${where}: `${call.methodAsString}` called twice in one block (include it again under an alias)"
                }
                super.visitMethodCallExpression(call)
            }
            void visitPropertyExpression(PropertyExpression e) {
                def owner = e.objectExpression
                if( owner instanceof PropertyExpression && owner.propertyAsString == 'out'
                        && owner.objectExpression instanceof VariableExpression && callable.containsKey(owner.objectExpression.name) ) {
                    def emits = emitsOf(callable[owner.objectExpression.name])
                    if( emits != null && !emits.contains(e.propertyAsString) )
                        problems << "${shown(source.name)}:${e.lineNumber}: `${owner.objectExpression.name}.out` has no emit `${e.propertyAsString}` (emits: ${emits.join(', ')})"
                }
                super.visitPropertyExpression(e)
            }
        }
        workflow.main?.visit(visitor)
        workflow.emits?.visit(visitor)
    }
}

root.toFile().eachFileRecurse(groovy.io.FileType.FILES) { File file ->
    def relative = root.relativize(file.toPath()).toString()
    if( !file.name.endsWith('.config') || file.name == 'nf-test.config' || relative.startsWith('.') || relative.startsWith('work/') ) return
    file.readLines().eachWithIndex { line, index ->
        def match = line =~ /withName\s*:\s*['"]?([^'"{]+?)['"]?\s*\{/
        if( !match.find() ) return
        def selector = match.group(1).trim()
        if( selector.startsWith('!') ) return
        def name = selector.contains(':') ? selector.substring(selector.lastIndexOf(':') + 1) : selector
        if( !processNames.any { it ==~ name } )
            problems << "${relative}:${index + 1}: withName selector '${selector}' matches no process (${processNames.sort().join(', ')})"
    }
}
problems.each { println it }
println "nf-wiring: ${problems.size()} problem(s)"
System.exit(problems ? 1 : 0)
