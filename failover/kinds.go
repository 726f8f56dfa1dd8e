package failover

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/search"
)

// stepKind is the kind of a journaled step. Each kind knows its driver,
// how its undo names what it undoes, and its undo (kinds): the
// Reserve/Unreserve contract of a scheduler plugin, where the undo is
// idempotent and may run when the step never did (a crash between the
// intent and the driver call).
type stepKind string

// The journaled step kinds. Their names are in every journal: never
// rename one.
const (
	kindFence   stepKind = "fence"   // a server fenced (a preemption victim is restarted on undo)
	kindBoot    stepKind = "boot"    // a spare booted (powered off on undo)
	kindStorage stepKind = "storage" // volumes moved between servers' initiators
	kindPark    stepKind = "park"    // a victim's volume unmapped, to be mapped back on undo
	kindVolumes stepKind = "volumes" // what a server had before the storage steps (checked on undo)
	kindZone    stepKind = "zone"    // zone membership moved between WWPNs
	kindVLAN    stepKind = "vlan"    // a switch port's VLANs changed
	kindCompose stepKind = "compose" // a logical server composed (decomposed on undo)
	kindReserve stepKind = "reserve" // servers reserved in the store
	kindCommit  stepKind = "commit"  // the records made final: rolled forward, never back
)

// kindSpec is what a step kind knows.
type kindSpec struct {
	driver string                                                              // the audit's driver name
	target func(stepRec) string                                                // what its undo acts on, for the audit
	undo   func(r *run, ctx context.Context, a *AuditEntry, rec stepRec) error // nil: never undone
}

// kinds is every journaled step kind; a kind not here is refused when
// journaled and when undone.
var kinds map[stepKind]kindSpec

func init() {
	moveTarget := func(rec stepRec) string {
		if rec.Swap {
			return fmt.Sprintf("%s: %s <- %s", rec.Array, rec.Server, rec.Spare)
		}
		return fmt.Sprintf("%s/%s lun %d -> %s", rec.Array, rec.Volume, rec.LUN, rec.Server)
	}
	server := func(rec stepRec) string { return string(rec.Server) }
	kinds = map[stepKind]kindSpec{
		kindFence:   {driver: "bmc", target: server, undo: (*run).undoFence},
		kindBoot:    {driver: "bmc", target: server, undo: (*run).undoBoot},
		kindStorage: {driver: "storage", target: moveTarget, undo: (*run).undoMove},
		kindPark:    {driver: "storage", target: moveTarget, undo: (*run).undoMove},
		kindVolumes: {driver: "storage", undo: (*run).undoVolumes, target: func(rec stepRec) string {
			return fmt.Sprintf("%s: %s has its %d volume(s)", rec.Array, rec.Server, len(rec.Maps))
		}},
		kindZone: {driver: "zoner", undo: (*run).undoZone, target: func(rec stepRec) string {
			return fmt.Sprintf("%s: %s <- %s", rec.Fabric, rec.FailedWWPN, rec.SpareWWPN)
		}},
		kindVLAN: {driver: "vlan", undo: (*run).undoVLAN, target: func(rec stepRec) string {
			return rec.Switch + "/" + rec.Port
		}},
		kindCompose: {driver: "partition", undo: (*run).undoCompose, target: func(rec stepRec) string {
			return rec.Partition
		}},
		kindReserve: {driver: "store", undo: (*run).undoReserve, target: func(rec stepRec) string {
			ids := make([]search.ServerID, len(rec.Reserved))
			for i, x := range rec.Reserved {
				ids[i] = x.ID
			}
			return joinIDs(ids)
		}},
		kindCommit: {driver: "store", target: server},
	}
}
