// Command coredns is CoreDNS with only the plugins that kubeadm's Corefile uses, built from
// CoreDNS's published Go module for the kind node image (registry.k8s.io/coredns/coredns).
// Leaving out the cloud DNS plugins (route53, azure, clouddns, ...) roughly halves the build.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins of kubeadm's Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go),
	// plus log and whoami for debugging by hand.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// The server's directive list decides plugin order; it names every plugin, linked or not.
var _ = dnsserver.Directives

func main() {
	coremain.Run()
}
