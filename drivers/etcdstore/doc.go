// Package etcdstore is the failover.Store for several management
// processes sharing state in etcd, with leader election and fencing.
package etcdstore
