package daemon

import (
	"context"
	"fmt"

	"github.com/coldstandby/coldstandby/failover/site"
)

// ReloadResult is what Reload did.
type ReloadResult struct {
	// Diff is the difference between the new site and the store when it
	// was read.
	Diff *site.Diff `json:"diff,omitempty"`
	// Applied: the leader wrote the site into the store (false when
	// there was nothing to write, or on a follower, which leaves that to
	// the leader).
	Applied bool `json:"applied"`
}

// Reload reads the site file again. An invalid file (or one whose
// drivers cannot be built) changes nothing: the error wraps
// failover.ErrInvalid, and a *site.Error lists the file's problems with
// their lines. Otherwise the leader applies it to the store as
// `coldstandby apply` does (a change that would disturb a failover under
// way refuses the whole apply: ErrConflict, nothing written, nothing
// changed), and the daemon switches to the new drivers and fault-action
// table: new faults go to a new Orchestrator while the failovers under
// way finish on the one they started on. The watcher restarts over the
// store's servers from where it was in each event log. A follower only
// switches its drivers. Reloads run one at a time.
func (d *Daemon) Reload(ctx context.Context) (*ReloadResult, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	res, err := d.reload(ctx)
	if err != nil {
		d.log.Error("reload refused: the running site is unchanged", "site", d.cfg.SitePath, "err", err)
		return res, err
	}
	d.log.Info("reloaded the site", "site", d.cfg.SitePath, "applied", res.Applied, "changes", len(res.Diff.Changes))
	d.refresh()
	return res, nil
}

func (d *Daemon) reload(ctx context.Context) (*ReloadResult, error) {
	s, err := site.Load(d.cfg.SitePath)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	t := d.term
	d.mu.Unlock()
	diff, err := s.Diff(ctx, d.store)
	if err != nil {
		return nil, err
	}
	res := &ReloadResult{Diff: diff}
	parts, err := build(ctx, s, d.cfg)
	if err != nil {
		return res, err
	}
	if t != nil && !diff.Empty() {
		if res.Diff, err = s.Apply(ctx, t.store); err != nil {
			_ = parts.Close()
			return res, err
		}
		res.Applied = true
		// Drivers that simulate the site (fake) start from the records:
		// build them again from the records just written.
		_ = parts.Close()
		if parts, err = build(ctx, s, d.cfg); err != nil {
			return res, fmt.Errorf("daemon: reload: the site was applied but its drivers could not be built again; the old ones stay: %w", err)
		}
	}
	reader, err := parts.Orchestrator(d.cfg.Options...)
	if err != nil {
		_ = parts.Close()
		return res, err
	}
	var gen *generation
	if t != nil {
		if gen, err = d.newGeneration(parts, t.store); err != nil {
			_ = parts.Close()
			return res, err
		}
	}
	d.mu.Lock()
	oldParts := d.parts
	d.site, d.parts, d.reader = s, parts, reader
	var oldGen *generation
	live := t != nil && d.term == t
	if t != nil {
		oldGen = t.gen
		if live {
			t.gen = gen
			d.old = append(d.old, oldGen)
		}
	}
	d.mu.Unlock()
	if live {
		d.startWatcher(t, d.stopWatcher(t))
	}
	if oldGen == nil {
		_ = oldParts.Close()
		return res, nil
	}
	// The old drivers serve the failovers that started on them.
	go func() {
		oldGen.busy.Wait()
		_ = oldParts.Close()
	}()
	return res, nil
}
