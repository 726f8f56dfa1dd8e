// Package opid carries the ID of the failover on whose behalf a driver
// call is made, in the call's context, so that drivers and fakes can log
// it. failover sets it (and exports failover.IDFromContext for drivers
// outside this module); drivers/fake records it in its op log.
package opid

import "context"

type key struct{}

// With returns ctx carrying failover ID id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the failover ID ctx carries, "" when none.
func From(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(key{}).(string)
	return id
}
