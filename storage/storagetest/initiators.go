package storagetest

import (
	"fmt"
	"math/rand/v2"

	"github.com/coldstandby/coldstandby/storage"
)

// Initiators returns n distinct, well-formed initiators of kind that no
// array knows: random names under prefixes that real hardware does not
// use ("5f:ff:ff:..." WWPNs, "iqn.2026-01.org.coldstandby.conformance:..."
// and "nqn.2026-01.org.coldstandby.conformance:..."). Harnesses may use
// them to create hosts; the suite uses them as initiators an array has
// never seen. It panics on an unknown kind.
func Initiators(kind storage.InitiatorKind, n int) []storage.Initiator {
	out := make([]storage.Initiator, 0, n)
	seen := make(map[storage.Initiator]bool, n)
	for len(out) < n {
		r := rand.Uint64()
		var s string
		switch kind {
		case storage.FC:
			s = fmt.Sprintf("5f:ff:ff:%02x:%02x:%02x:%02x:%02x", byte(r>>32), byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
		case storage.ISCSI:
			s = fmt.Sprintf("iqn.2026-01.org.coldstandby.conformance:%016x", r)
		case storage.NVMe:
			s = fmt.Sprintf("nqn.2026-01.org.coldstandby.conformance:%016x", r)
		default:
			panic(fmt.Sprintf("storagetest: Initiators: unknown kind %v", kind))
		}
		i := storage.MustParseInitiator(s)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}
