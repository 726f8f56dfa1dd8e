package ovs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coldstandby/coldstandby/fabric"
)

// Why SetPortVLAN also talks to ovs-vswitchd, not only to the database.
//
// ovs-vswitchd sets Open_vSwitch.cur_cfg in the pass of its main loop that
// gives the new port settings to its OpenFlow layer, but it hands the new
// translation to its revalidator threads only at the start of a later
// pass, and they replace the flows already cached in the data path only
// during their next dump of it. Until then frames that match a cached flow
// are forwarded by the old VLAN settings: measured here, up to tens of
// milliseconds after cur_cfg caught up on a loaded machine (more with many
// flows, whose dump takes longer). A port taken off a VLAN would still
// carry it when SetPortVLAN returned.
//
// So, when it can reach ovs-vswitchd's control socket (what ovs-appctl
// talks to), SetPortVLAN then
//
//  1. bumps next_cfg once more and waits for cur_cfg again: ovs-vswitchd
//     applies that bump in a later pass of its main loop, which starts by
//     handing over the translation of the first change and asking the
//     revalidators to revalidate every cached flow;
//  2. calls "revalidator/wait" twice: each returns when the revalidators
//     next finish a dump of the data path, so the second dump began after
//     the first call was made, that is after step 1, and revalidated every
//     cached flow under the new settings.
//
// The cost: revalidators dump when asked and otherwise every
// other_config:max-revalidator (500 ms by default), so confirming takes up
// to two such periods.

// controlSocket returns the path of ovs-vswitchd's control socket and
// whether the caller named it (WithVswitchdControl). Otherwise, for a
// database reached by a unix socket, it is found as ovs-appctl finds it:
// ovs-vswitchd.<pid>.ctl in the run directory, taken to be the database
// socket's (/run/openvswitch as packaged), pid read from ovs-vswitchd.pid
// there. "" means none.
func (s *Switch) controlSocket() (path string, named bool) {
	if s.vswitchdCtl != "" {
		return s.vswitchdCtl, true
	}
	if s.network != "unix" {
		return "", false
	}
	dir := filepath.Dir(s.address)
	b, err := os.ReadFile(filepath.Join(dir, "ovs-vswitchd.pid"))
	if err != nil {
		return "", false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "", false
	}
	p := filepath.Join(dir, fmt.Sprintf("ovs-vswitchd.%d.ctl", pid))
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, false
}

// waitDatapath waits, after cur_cfg has caught up with a change, until the
// data path forwards by it (see above). Without a control socket it
// returns nil at once. A control socket that was found rather than named
// and does not answer is logged and ignored: the change is applied, only
// this confirmation is missing. ctx carries SetPortVLAN's apply deadline.
func (s *Switch) waitDatapath(ctx context.Context) error {
	path, named := s.controlSocket()
	if path == "" {
		s.log.Debug("ovs: no ovs-vswitchd control socket; data path not awaited", "driver", "ovs")
		return nil
	}
	next, err := s.bumpCfg(ctx)
	if err != nil {
		return fmt.Errorf("applied, but the second configuration bump failed: %v: %w", err, fabric.ErrOutcomeUnknown)
	}
	if err := s.waitApplied(ctx, next); err != nil {
		return fmt.Errorf("applied, but %w", err)
	}
	err = s.revalidatorWait(ctx, path)
	if err == nil {
		return nil
	}
	if !named {
		s.log.Warn("ovs: data path not confirmed", "driver", "ovs", "socket", path, "err", err)
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("applied, but the data path was not confirmed within %v through %s: %w: %w", s.applyWait, path, ctxErr, fabric.ErrOutcomeUnknown)
	}
	return fmt.Errorf("applied, but the data path was not confirmed through %s: %v: %w", path, err, fabric.ErrOutcomeUnknown)
}

// bumpCfg increments Open_vSwitch.next_cfg and returns its new value.
func (s *Switch) bumpCfg(ctx context.Context) (int64, error) {
	res, err := s.transact(ctx, true,
		map[string]any{"op": "mutate", "table": "Open_vSwitch", "where": []any{}, "mutations": []any{[]any{"next_cfg", "+=", 1}}},
		map[string]any{"op": "select", "table": "Open_vSwitch", "where": []any{}, "columns": []string{"next_cfg"}},
	)
	if err != nil {
		return 0, err
	}
	return readNextCfg(res[1])
}

// readNextCfg reads next_cfg from a select of the Open_vSwitch table.
func readNextCfg(r opResult) (int64, error) {
	var next []int64
	if len(r.Rows) == 1 {
		next, _ = decodeSet[int64](r.Rows[0]["next_cfg"])
	}
	if len(next) != 1 {
		return 0, errors.New("next_cfg unreadable")
	}
	return next[0], nil
}

// revalidatorWait calls revalidator/wait twice on ovs-vswitchd's control
// socket at path (JSON-RPC, like OVSDB).
func (s *Switch) revalidatorWait(ctx context.Context, path string) error {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	c := newRPCConn(raw)
	defer c.close()
	for range 2 {
		if _, err := c.call(ctx, "revalidator/wait", []any{}); err != nil {
			var re *rpcError
			if errors.As(err, &re) {
				return fmt.Errorf("ovs-vswitchd answered revalidator/wait with %s", re.raw)
			}
			return err
		}
	}
	return nil
}
