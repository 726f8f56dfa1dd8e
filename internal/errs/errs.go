// Package errs holds the error kinds shared by every coldstandby package.
//
// The interface packages (bmc, storage, partition, fabric) re-export these
// values under the same names, so errors.Is(err, storage.ErrNotFound) and
// errors.Is(err, bmc.ErrNotFound) are the same test. Importers use the
// re-exported names; this package is internal so that there is one place
// that defines them.
package errs

import "errors"

var (
	// NotFound: the server, volume, port, zone or record does not exist.
	NotFound = errors.New("not found")
	// Conflict: the request contradicts the current state (a LUN number
	// already used by another volume, a member of another partition, a
	// stale revision in a compare-and-set).
	Conflict = errors.New("conflict")
	// Transient: the request failed and did not take effect; the same
	// request may succeed if retried (a busy device, a dropped connection
	// before the request was sent). A zoning transaction held by another
	// session is Conflict (see fabric.FCZoner).
	Transient = errors.New("transient")
	// Unsupported: the device or driver cannot do this at all (an IPMI
	// BMC without NMI), or refuses this client (credentials or rights
	// refused: the message says so); retrying the same request will not
	// help.
	Unsupported = errors.New("unsupported")
	// OutcomeUnknown: the request may or may not have taken effect (a
	// timeout after it was sent, a lost response). The caller must re-read
	// the device's state before acting again.
	OutcomeUnknown = errors.New("outcome unknown")
	// Invalid: the arguments are malformed (a bad WWPN, a VLAN id out of
	// range); the request was not sent.
	Invalid = errors.New("invalid argument")
)
