// Package dns stands in for lego's registry of ACME DNS-01 challenge providers
// (github.com/go-acme/lego/v5/providers/dns) in the Traefik that hack/gateway/build-traefik.sh
// builds. The real registry imports every DNS host's SDK, and the Go module proxy this project
// builds from does not serve several of them (Huawei Cloud, Oracle Cloud, Sakura Cloud, UCloud,
// Yandex Cloud, Akamai EdgeDNS at the versions lego asks for), so Traefik cannot be built
// with it. The kind tier's gateway serves certificates from Secrets and never runs ACME, so
// this registry knows no provider: asking for one is an error that says why.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName is the registry's only entry point that Traefik calls
// (pkg/provider/acme); here it always refuses.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("ACME DNS challenge provider %q: no DNS provider is built into "+
		"this Traefik (hack/gateway/build-traefik.sh leaves lego's DNS providers out)", name)
}
