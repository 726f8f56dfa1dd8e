package search

// Validate reports whether s can be part of an Inventory on its own: a
// non-empty ID, a known state, hardware sizes that are not negative nor
// absurd, and VLANs in 0..4094. It returns an error wrapping ErrInvalid
// that names the server and the field. Rules that span several servers
// (duplicate IDs, partition members that disagree) are NewInventory's.
func (s Server) Validate() error {
	if s.ID == "" {
		return invalid("server: empty ID")
	}
	if !s.State.valid() {
		return invalid("server %s: unknown state %q", s.ID, s.State)
	}
	h := s.Hardware
	if h.CPUMHz < 0 || h.MemoryMiB < 0 || h.NICPorts < 0 || h.HBAPorts < 0 {
		return invalid("server %s: negative hardware size", s.ID)
	}
	if h.CPUMHz > maxMHz || int64(h.MemoryMiB) > maxMiB || h.NICPorts > maxPorts || h.HBAPorts > maxPorts {
		return invalid("server %s: hardware size out of range", s.ID)
	}
	for _, v := range s.VLANs {
		if v < 0 || v > 4094 {
			return invalid("server %s: VLAN %d out of range", s.ID, v)
		}
	}
	return nil
}
