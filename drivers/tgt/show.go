package tgt

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// target is one target as printed by `tgtadm --mode target --op show`.
type target struct {
	TID     int
	Name    string
	LUNs    []lun    // every LUN, LUN 0 (the controller) included
	ACLs    []string // "ACL information" entries, verbatim: initiator names and addresses
	Nexuses []nexus  // "I_T nexus information": logged-in initiators
}

// lun is one logical unit of a target.
type lun struct {
	Number    int
	Type      string // "disk", "controller", ...
	SizeMB    int64  // as printed ("Size: 8 MB"); -1 when absent
	Backing   string // backing store path ("None" for the controller)
	BlockSize int64
}

// nexus is one I_T nexus (session) with its connections.
type nexus struct {
	SID         int
	Initiator   string
	Connections []int
}

// dataLUNs returns the LUN numbers of the target that carry data, that is
// every LUN but tgt's controller LUN, in the printed order.
func (t *target) dataLUNs() []int {
	var out []int
	for _, l := range t.LUNs {
		if !strings.EqualFold(l.Type, "controller") {
			out = append(out, l.Number)
		}
	}
	return out
}

// hasDataLUN reports whether the target has data LUN n.
func (t *target) hasDataLUN(n int) bool {
	for _, l := range t.dataLUNs() {
		if l == n {
			return true
		}
	}
	return false
}

// Sections of a target in tgtadm's show output (usr/tgtadm.c and
// usr/target.c in tgt 1.0.x print them in this order).
const (
	secNone = iota
	secSystem
	secNexus
	secLUN
	secAccount
	secACL
)

var sections = map[string]int{
	"system information":    secSystem,
	"i_t nexus information": secNexus,
	"lun information":       secLUN,
	"account information":   secAccount,
	"acl information":       secACL,
}

// parseShow parses the output of `tgtadm --lld iscsi --mode target --op
// show`. It keys on labels, not on indentation or column positions: lines
// may carry any leading and trailing white space, any amount of space
// after a colon, CRLF line ends and blank lines. Unknown labels are
// ignored, so that output of newer tgt versions still parses. Malformed
// values of the fields it uses (target ids, LUN numbers, nexus ids) are
// errors, not silently skipped.
func parseShow(r io.Reader) ([]target, error) {
	var (
		out  []target
		cur  *target
		sec  = secNone
		curL *lun
		curN *nexus
		line int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "Target "); ok {
			// "Target 1: iqn.2026-11.org.example:boot"
			idStr, name, found := strings.Cut(rest, ":")
			id, err := strconv.Atoi(strings.TrimSpace(idStr))
			if !found || err != nil || id <= 0 {
				return nil, fmt.Errorf("line %d: malformed target header %q", line, s)
			}
			name = strings.TrimSpace(name)
			if name == "" {
				return nil, fmt.Errorf("line %d: target %d has no name", line, id)
			}
			out = append(out, target{TID: id, Name: name})
			cur, sec, curL, curN = &out[len(out)-1], secNone, nil, nil
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %q before the first target", line, s)
		}
		if label, ok := strings.CutSuffix(s, ":"); ok {
			if k, ok := sections[strings.ToLower(strings.Join(strings.Fields(label), " "))]; ok {
				sec, curL, curN = k, nil, nil
				continue
			}
		}
		key, val, hasColon := strings.Cut(s, ":")
		key = strings.ToLower(strings.Join(strings.Fields(key), " "))
		val = strings.TrimSpace(val)
		switch sec {
		case secACL:
			// One entry per line: an initiator name ("iqn...", which
			// contains colons), an address or "ALL".
			cur.ACLs = append(cur.ACLs, s)
		case secLUN:
			if !hasColon {
				continue
			}
			switch key {
			case "lun":
				n, err := strconv.Atoi(val)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("line %d: target %d: malformed LUN %q", line, cur.TID, val)
				}
				cur.LUNs = append(cur.LUNs, lun{Number: n, SizeMB: -1})
				curL = &cur.LUNs[len(cur.LUNs)-1]
			case "type":
				if curL != nil {
					curL.Type = val
				}
			case "size":
				// "8 MB, Block size: 512"
				if curL != nil {
					parseSize(curL, val)
				}
			case "backing store path":
				if curL != nil {
					curL.Backing = val
				}
			}
		case secNexus:
			if !hasColon {
				continue
			}
			switch key {
			case "i_t nexus":
				n, err := strconv.Atoi(val)
				if err != nil {
					return nil, fmt.Errorf("line %d: target %d: malformed I_T nexus %q", line, cur.TID, val)
				}
				cur.Nexuses = append(cur.Nexuses, nexus{SID: n})
				curN = &cur.Nexuses[len(cur.Nexuses)-1]
			case "initiator":
				// "iqn.1994-05.com.redhat:abc alias: host"
				if curN != nil {
					name := val
					if i := strings.Index(name, " alias:"); i >= 0 {
						name = name[:i]
					}
					curN.Initiator = strings.TrimSpace(name)
				}
			case "connection":
				if curN != nil {
					c, err := strconv.Atoi(val)
					if err != nil {
						return nil, fmt.Errorf("line %d: target %d: malformed connection %q", line, cur.TID, val)
					}
					curN.Connections = append(curN.Connections, c)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseSize(l *lun, val string) {
	sizePart, rest, _ := strings.Cut(val, ",")
	f := strings.Fields(sizePart)
	if len(f) >= 1 {
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			l.SizeMB = n
		}
	}
	if _, bs, ok := strings.Cut(rest, ":"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(bs), 10, 64); err == nil {
			l.BlockSize = n
		}
	}
}
