// Package racefree runs a test that exercises races inside protoactor-go
// (not in this project's code, and not avoidable from outside) in a build
// without the race detector when the suite runs under -race, so that the
// test still runs and counts instead of being skipped.
package racefree

import (
	"os/exec"
	"strings"
	"testing"
)

// ProtoactorRaces names the data races the race detector reports in
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9 when several remotes or
// cluster members run in one process.
const ProtoactorRaces = `protoactor's races under -race:
 - remote/server.go:61 Remote.Start sets grpclog's global logger, read by another remote's grpc server (several remotes in one process only);
 - remote/endpoint_manager.go:115 Remote.Shutdown writes the endpoint manager's state that its writers' mailboxes read;
 - cluster/informer.go:25,122 one package-level math/rand.Rand shuffles for every member's gossip actor (several members in one process only);
 - remote/blocklist.go:28 BlockedMembers reads without the lock that Block (blocklist.go:37) writes under: read by MemberList.UpdateClusterTopology (cluster.go:81, member_list.go:198), written by gossip (member_list.go:50, gossiper.go:398);
 - cluster/identitylookup/disthash/manager.go:68-69 replaces the Rendezvous on a topology event while Cluster.Request reads it (manager.go:75; rendezvous.go:26 fills it unlocked)`

// Rerun reports whether the race detector is on; if it is, it runs t again
// (by name, in its package's directory, which is the test's working
// directory) in a child go test built without it and fails t when that
// fails. The caller returns when Rerun is true:
//
//	if racefree.Rerun(t) {
//		return
//	}
func Rerun(t *testing.T) bool {
	t.Helper()
	if !detector {
		return false
	}
	t.Log(ProtoactorRaces)
	out, err := exec.Command("go", "test", "-count=1", "-v", "-run", "^"+t.Name()+"$", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("%s without -race: %v\n%s", t.Name(), err, out)
	}
	// A run that matched no test passes too: it must have run this one.
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("%s without -race did not run it:\n%s", t.Name(), out)
	}
	return true
}
