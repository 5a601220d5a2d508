// Runs integrations/jenkins/vars/signoffGate.groovy with the pipeline steps it uses stubbed (env, pwd, withEnv, sh,
// error, echo): its argument checks, the environment it builds, what it returns and how it fails.
// groovy Tests/integrations/jenkins_step.groovy integrations/jenkins/vars/signoffGate.groovy (story.py runs it
// when groovy is installed). Exits non-zero on the first failed assertion.

def load(Map env, int status, List calls) {
    def step = new GroovyShell().parse(new File(this.args[0]))
    step.metaClass.getEnv = { -> env }
    step.metaClass.error = { String m -> throw new IllegalStateException(m) }
    step.metaClass.pwd = { Map m -> '/ws@tmp' }
    step.metaClass.echo = { String m -> }
    step.metaClass.withEnv = { List vars, Closure body -> calls << vars.collect { it.toString() }; body() }
    step.metaClass.sh = { Map m ->
        calls << m
        if (m.returnStatus) { return status }
        m.script.contains('SIGNOFF_GATE_OUT') ? 'REQ-9\n' : 'DENIED: REQ-9 may not deploy\n  - request.closed: request REQ-9 is rejected\n'
    }
    step
}

def failure(Closure c) {
    try { c(); return null } catch (IllegalStateException e) { return e.message }
}

def env = [SIGNOFF_SERVER: 'http://signoff', SIGNOFF_TOKEN: 't', BUILD_URL: 'http://jenkins/job/1/']
def calls = []
assert load(env, 0, calls).call(project: 'webshop', environment: 'prod', bundleFile: 'dist/webshop.zip', wait: '2h') == 'REQ-9'
assert calls[0] == ['SIGNOFF_GATE_PROJECT=webshop', 'SIGNOFF_GATE_ENV=prod', 'SIGNOFF_GATE_BUNDLE=webshop.zip',
                    'SIGNOFF_GATE_DIGEST=', 'SIGNOFF_GATE_BUNDLE_FILE=dist/webshop.zip', 'SIGNOFF_GATE_WAIT=2h',
                    'SIGNOFF_GATE_DESCRIPTION=http://jenkins/job/1/', 'SIGNOFF_GATE_TEST_REPORT=',
                    'SIGNOFF_GATE_OUT=/ws@tmp/signoff-request', 'SIGNOFF_GATE_REASONS=/ws@tmp/signoff-reasons']
String source = new File(this.args[0]).text
String marked = (source =~ /(?s)BEGIN gate-sh.*?'''(.*?)'''/)[0][1]
assert calls[1].returnStatus && calls[1].script == marked
assert calls[2].returnStdout

calls = []
String refused = failure { load(env, 2, calls).call(project: 'webshop', environment: 'prod', digest: 'sha256:00', bundle: 'w.zip') }
assert refused.startsWith('Signoff gate refused for REQ-9:') && refused.contains('request.closed: request REQ-9 is rejected')
assert calls[0].contains('SIGNOFF_GATE_DIGEST=sha256:00') && calls[0].contains('SIGNOFF_GATE_WAIT=30m')
assert failure { load(env, 75, []).call(project: 'p', environment: 'e', digest: 'sha256:00', bundle: 'b') }.contains('wait ran out')
assert failure { load(env, 0, []).call(project: 'p', environment: 'e', digest: 'sha256:00') }.contains("give 'bundle'")
assert failure { load(env, 0, []).call(project: 'p', environment: 'e') }.contains("'bundleFile' or 'digest'")
assert failure { load([SIGNOFF_SERVER: 'x'], 0, []).call(project: 'p', environment: 'e', bundleFile: 'b') }.contains('withCredentials')
println 'signoffGate.groovy: all assertions passed'
