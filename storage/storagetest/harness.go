// Package storagetest is the conformance suite for storage.DiskMapper
// drivers (and the optional storage.InitiatorSwapper).
//
// Import it from a driver's tests (drivers/fake, drivers/tgt,
// drivers/ontap, or a driver of your own) and call Run with a function
// that builds a Harness: a fresh driver plus a way to create volumes and
// hosts on the array and to read its masking directly. The suite checks
// the normal path, idempotency, the documented error kinds, context
// cancellation and concurrent use, exactly as the doc comments of
// storage.DiskMapper and storage.InitiatorSwapper promise. Drivers that
// also implement storage.InitiatorSwapper get its tests too.
//
// The suite follows gocloud's blob/drivertest and testing/fstest.TestFS.
package storagetest

import (
	"context"
	"time"

	"github.com/coldstandby/coldstandby/storage"
)

// Harness is one disk array and the driver under test.
//
// Run calls newHarness once per subtest, so every subtest starts from a
// fresh harness; the harness releases what it holds through t.Cleanup.
// Volumes and Hosts create fixtures on the array; Masking reads the
// array's LUN masking without the driver under test, so that the suite
// checks what the driver really did. The suite never touches volumes or
// initiators other than the ones the harness gave it (and initiators it
// generated itself with Initiators, which the array must not know).
type Harness interface {
	// MakeMapper returns the driver under test. The suite calls it once
	// per harness.
	MakeMapper(ctx context.Context) (storage.DiskMapper, error)

	// Volumes creates n (at most 8) new volumes, mapped to nobody, and
	// returns their IDs.
	Volumes(ctx context.Context, n int) ([]storage.VolumeID, error)

	// Hosts returns n (at most 8) hosts: disjoint, non-empty sets of
	// initiators of one kind the array supports, that see no volume. On
	// arrays that keep host objects each set is the initiator list of
	// one host object (the harness creates them).
	Hosts(ctx context.Context, n int) ([][]storage.Initiator, error)

	// Masking returns the volumes the array lets any of initiators see,
	// with their host LUN numbers, sorted by LUN then volume, read from
	// the array directly (a management API, tgtadm, the simulator's
	// state). A harness with no other way may read through a second,
	// independent instance of the driver, but that proves less.
	Masking(ctx context.Context, initiators []storage.Initiator) ([]storage.Mapping, error)
}

// FixedLUNs is an optional Harness capability of arrays that cannot choose
// a volume's host LUN number at Map time (tgt, where a volume is a LUN of
// a target and an initiator bound to the target sees it at that number).
// When the harness has it, the suite calls VolumesAt instead of Volumes,
// maps each volume only at the LUN it asked for (and at other LUNs only
// where it expects storage.ErrConflict), and checks the rest of the
// contract as for any array. The suite never uses LUN 0 for this reason.
type FixedLUNs interface {
	// VolumesAt creates one new volume, mapped to nobody, per element of
	// luns (each in 1..255, at most 8 elements, repeats allowed), that
	// hosts will see at that LUN number, and returns their IDs in the
	// same order. Volumes that share a LUN number must be mappable to
	// different hosts at once (separate targets).
	VolumesAt(ctx context.Context, luns []int) ([]storage.VolumeID, error)
}

// UnknownVolumer is an optional Harness capability for drivers whose
// volume IDs have a format: it returns an ID, well formed for the driver,
// that names no volume on the array. Without it the suite uses
// "conformance-no-such-volume", for which the driver must also return
// storage.ErrNotFound.
type UnknownVolumer interface {
	UnknownVolume(ctx context.Context) (storage.VolumeID, error)
}

// TransientFailer is an optional Harness capability: make the driver's
// next request to the array fail as if the array had been briefly
// unreachable or busy, without the request taking effect. The suite then
// checks that the driver reports storage.ErrTransient, changed nothing,
// and succeeds when called again.
type TransientFailer interface {
	FailNext(ctx context.Context) error
}

// Staller is an optional Harness capability: the array receives the
// driver's next request and holds it for d before carrying it out and
// answering, as an overloaded array does. The suite cancels the caller's context while
// the request is held and checks that the driver returns promptly with an
// error wrapping context.Canceled and, unless that error also wraps
// storage.ErrOutcomeUnknown, that the request never took effect (the
// suite looks again after d).
type Staller interface {
	StallNext(ctx context.Context, d time.Duration) error
}
