package failover

import (
	"fmt"

	"github.com/coldstandby/coldstandby/fabric"
	"github.com/coldstandby/coldstandby/partition"
	"github.com/coldstandby/coldstandby/storage"
)

// The driver lookups below say, for one step, which driver acts, or why
// the step is skipped (a part declared Unmanaged), or that the site
// lacks the driver: an error wrapping ErrNotFound. New and the fault
// intake refuse records whose drivers are missing (checkDrivers), so the
// error is only met when the records changed under a running failover.
// DryRun uses the same lookups, so it shows what a failover would do.

func (o *Orchestrator) diskMapper(array string) (storage.DiskMapper, string, error) {
	if o.cfg.unmanaged.array(array) {
		return nil, fmt.Sprintf("disk array %q is unmanaged", array), nil
	}
	if dm, ok := o.drv.DiskMappers[array]; ok && dm != nil {
		return dm, "", nil
	}
	return nil, "", fmt.Errorf("no DiskMapper for disk array %q: %w", array, ErrNotFound)
}

func (o *Orchestrator) fcZoner(fab string) (fabric.FCZoner, string, error) {
	if o.cfg.unmanaged.fabric(fab) {
		return nil, fmt.Sprintf("fabric %q is unmanaged", fab), nil
	}
	if z, ok := o.drv.FCZoners[fab]; ok && z != nil {
		return z, "", nil
	}
	return nil, "", fmt.Errorf("no FCZoner for fabric %q: %w", fab, ErrNotFound)
}

func (o *Orchestrator) vlanSwitch(name string) (fabric.VLANSwitch, string, error) {
	if o.cfg.unmanaged.switch_(name) {
		return nil, fmt.Sprintf("switch %q is unmanaged", name), nil
	}
	if s, ok := o.drv.VLANSwitches[name]; ok && s != nil {
		return s, "", nil
	}
	return nil, "", fmt.Errorf("no VLANSwitch %q: %w", name, ErrNotFound)
}

func (o *Orchestrator) partitionManager() (partition.PartitionManager, string, error) {
	if o.drv.Partitions != nil {
		return o.drv.Partitions, "", nil
	}
	if o.cfg.unmanaged.Partitions {
		return nil, "partitions are unmanaged", nil
	}
	return nil, "", fmt.Errorf("no PartitionManager: %w", ErrNotFound)
}
