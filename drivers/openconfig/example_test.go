package openconfig_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"os"

	"github.com/coldstandby/coldstandby/drivers/openconfig"
	"github.com/coldstandby/coldstandby/fabric"
)

// Wiring the driver for a gNMI switch over TLS with a password.
func Example() {
	pem, err := os.ReadFile("/etc/coldstandby/switch-ca.pem")
	if err != nil {
		log.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	sw, err := openconfig.Dial("leaf1.example:6030",
		openconfig.WithTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
		openconfig.WithCredentials("coldstandby", os.Getenv("SWITCH_PASSWORD")),
		openconfig.WithOrigin("openconfig"))
	if err != nil {
		log.Fatal(err)
	}
	defer sw.Close()
	var vs fabric.VLANSwitch = sw
	v, err := vs.PortVLAN(context.Background(), "Ethernet12")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
}
