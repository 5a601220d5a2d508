// signoffGate: file (or find) the Signoff request for a bundle and wait until Signoff allows deploying it.
// Returns the request id; fails the build with Signoff's reason otherwise. The agent needs the signoff CLI and
// integrations/common/signoff-gate.sh (on PATH, or SIGNOFF_GATE_SH); run it inside
//   withCredentials([string(credentialsId: 'signoff-ci-token', variable: 'SIGNOFF_TOKEN')]) { ... }
// with SIGNOFF_SERVER in the environment. Usage: integrations/jenkins/README.md.
//
//   def request = signoffGate(project: 'webshop', environment: 'prod', bundle: 'webshop-1.4.2.zip',
//                             bundleFile: 'dist/webshop-1.4.2.zip', wait: '2h', testReport: 'build/junit.xml',
//                             touches: 'connections', labels: 'risk=high')

def call(Map args = [:]) {
    for (name in ['project', 'environment']) {
        if (!args[name]) { error("signoffGate: '${name}' is required") }
    }
    if (!args.bundleFile && !args.digest) { error("signoffGate: give 'bundleFile' or 'digest'") }
    if (!env.SIGNOFF_SERVER || !env.SIGNOFF_TOKEN) {
        error('signoffGate: SIGNOFF_SERVER and SIGNOFF_TOKEN must be set (wrap the call in withCredentials)')
    }
    String bundle = args.bundle ?: (args.bundleFile ? args.bundleFile.tokenize('/').last() : '')
    if (!bundle) { error("signoffGate: give 'bundle' (the bundle's name) with 'digest'") }
    String dir = pwd(tmp: true)
    // Values reach the shell as environment variables, never interpolated into the command.
    List<String> vars = [
        "SIGNOFF_GATE_PROJECT=${args.project}",
        "SIGNOFF_GATE_ENV=${args.environment}",
        "SIGNOFF_GATE_BUNDLE=${bundle}",
        "SIGNOFF_GATE_DIGEST=${args.digest ?: ''}",
        "SIGNOFF_GATE_BUNDLE_FILE=${args.bundleFile ?: ''}",
        "SIGNOFF_GATE_WAIT=${args.wait ?: '30m'}",
        "SIGNOFF_GATE_DESCRIPTION=${args.description ?: env.BUILD_URL ?: ''}",
        "SIGNOFF_GATE_TEST_REPORT=${args.testReport ?: ''}",
        "SIGNOFF_GATE_TOUCHES=${args.touches ?: ''}",
        "SIGNOFF_GATE_LABELS=${args.labels ?: ''}",
        "SIGNOFF_GATE_OUT=${dir}/signoff-request",
        "SIGNOFF_GATE_REASONS=${dir}/signoff-reasons",
    ]
    // BEGIN gate-sh (Tests/integrations/story.py runs exactly this text with sh -xe)
    String gateSh = '''
mkdir -p "$(dirname "$SIGNOFF_GATE_OUT")"
rm -f "$SIGNOFF_GATE_OUT" "$SIGNOFF_GATE_REASONS"
"${SIGNOFF_GATE_SH:-signoff-gate.sh}" --project "$SIGNOFF_GATE_PROJECT" --env "$SIGNOFF_GATE_ENV" --bundle "$SIGNOFF_GATE_BUNDLE" --digest "$SIGNOFF_GATE_DIGEST" --bundle-file "$SIGNOFF_GATE_BUNDLE_FILE" --wait "$SIGNOFF_GATE_WAIT" --description "$SIGNOFF_GATE_DESCRIPTION" --test-report "$SIGNOFF_GATE_TEST_REPORT" --touches "$SIGNOFF_GATE_TOUCHES" --labels "$SIGNOFF_GATE_LABELS" --reasons-file "$SIGNOFF_GATE_REASONS" >"$SIGNOFF_GATE_OUT"
'''
    // END gate-sh
    int status = 0
    String request = ''
    String reasons = ''
    withEnv(vars) {
        status = sh(returnStatus: true, script: gateSh)
        request = sh(returnStdout: true, script: 'cat "$SIGNOFF_GATE_OUT" 2>/dev/null || true').trim()
        if (status != 0) {
            reasons = sh(returnStdout: true, script: 'cat "$SIGNOFF_GATE_REASONS" 2>/dev/null || true').trim()
        }
    }
    if (status != 0) {
        String what = [2: 'refused', 75: 'still not allowed when the wait ran out', 127: 'signoff CLI missing'][status] ?: "failed (exit ${status})"
        error("Signoff gate ${what}${request ? ' for ' + request : ''}:\n${reasons}")
    }
    echo("Signoff allows ${request} to deploy to ${args.environment}")
    return request
}
