// Command etcd is the etcd server that kubeadm's static pod runs in the kind node image
// (registry.k8s.io/etcd:<kubeadm's DefaultEtcdVersion>), built from etcd's published Go module
// because no release binary or image can be downloaded where this project is developed.
// Kept apart from hack/cluster/etcd: kubeadm asks for its own etcd version.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
