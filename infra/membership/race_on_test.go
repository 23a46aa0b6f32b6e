//go:build race

package membership

// protoactorRaces names the data races the race detector reports in
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9 when cluster members run
// and change; none is in this package's code, and none can be avoided from
// outside protoactor.
const protoactorRaces = `protoactor's cluster races under -race:
 - remote/server.go:61 Remote.Start sets grpclog's global logger, read by another remote's grpc server (several members in one process only);
 - cluster/informer.go:25,122 one package-level math/rand.Rand shuffles for every member's gossip actor (several members in one process only);
 - remote/blocklist.go:28 BlockedMembers reads without the lock that Block (blocklist.go:37) writes under: read by MemberList.UpdateClusterTopology (cluster.go:81, member_list.go:198), written by gossip (member_list.go:50, gossiper.go:398);
 - cluster/identitylookup/disthash/manager.go:68-69 replaces the Rendezvous on a topology event while Cluster.Request reads it (manager.go:75; rendezvous.go:26 fills it unlocked)`

const raceDetector = true
