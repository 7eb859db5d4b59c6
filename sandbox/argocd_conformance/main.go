// Command argocd-conformance prints what Argo CD's own code understands of cluster Secrets.
//
// It reads Kubernetes Secrets as JSON on stdin (one Secret, or a List as `kubectl get secret
// -o json` prints it), runs Argo CD's util/db.SecretToCluster and the cluster's
// RawRestConfig on each, exactly as the application controller does, and prints one JSON
// object per Secret: server, name, the exec command and args of the REST config, the CA,
// TLS settings, namespaces, project, clusterResources, labels; or the error Argo CD gives.
// Built by scripts/build-argocd in the same wrapper module as Argo CD itself.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/argoproj/argo-cd/v3/util/db"
	corev1 "k8s.io/api/core/v1"
)

type execView struct {
	APIVersion string   `json:"apiVersion"`
	Command    string   `json:"command"`
	Args       []string `json:"args"`
}

type result struct {
	Secret           string            `json:"secret"`
	Error            string            `json:"error,omitempty"`
	Server           string            `json:"server"`
	Name             string            `json:"name"`
	Host             string            `json:"host"`
	Exec             *execView         `json:"exec"`
	CAData           string            `json:"caData"`
	Insecure         bool              `json:"insecure"`
	ServerName       string            `json:"serverName"`
	HasBearerToken   bool              `json:"hasBearerToken"`
	HasClientCert    bool              `json:"hasClientCert"`
	Namespaces       []string          `json:"namespaces"`
	Project          string            `json:"project"`
	ClusterResources bool              `json:"clusterResources"`
	Labels           map[string]string `json:"labels"`
	Annotations      map[string]string `json:"annotations"`
}

func understand(s *corev1.Secret) result {
	// The apiserver folds stringData into data; SecretToCluster reads data only.
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	out := result{Secret: s.Namespace + "/" + s.Name}
	cluster, err := db.SecretToCluster(s)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Server, out.Name = cluster.Server, cluster.Name
	out.Namespaces, out.Project, out.ClusterResources = cluster.Namespaces, cluster.Project, cluster.ClusterResources
	out.Labels, out.Annotations = cluster.Labels, cluster.Annotations
	config, err := cluster.RawRestConfig()
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Host = config.Host
	if config.ExecProvider != nil {
		out.Exec = &execView{config.ExecProvider.APIVersion, config.ExecProvider.Command, config.ExecProvider.Args}
	}
	out.CAData = base64.StdEncoding.EncodeToString(config.TLSClientConfig.CAData)
	out.Insecure = config.TLSClientConfig.Insecure
	out.ServerName = config.TLSClientConfig.ServerName
	out.HasBearerToken = config.BearerToken != "" || config.BearerTokenFile != ""
	out.HasClientCert = len(config.TLSClientConfig.CertData) > 0 || len(config.TLSClientConfig.KeyData) > 0
	return out
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-conformance: reading stdin:", err)
		os.Exit(2)
	}
	var list struct {
		Kind  string          `json:"kind"`
		Items []corev1.Secret `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-conformance: stdin is not JSON:", err)
		os.Exit(2)
	}
	secrets := list.Items
	if list.Kind != "List" && list.Kind != "SecretList" {
		var one corev1.Secret
		if err := json.Unmarshal(raw, &one); err != nil {
			fmt.Fprintln(os.Stderr, "argocd-conformance: stdin is not a Secret:", err)
			os.Exit(2)
		}
		secrets = []corev1.Secret{one}
	}
	results := make([]result, 0, len(secrets))
	for i := range secrets {
		results = append(results, understand(&secrets[i]))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-conformance:", err)
		os.Exit(1)
	}
}
