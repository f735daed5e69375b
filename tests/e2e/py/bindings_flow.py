"""Drives Pith through Pulp's generated Python bindings (pulpcore-client, pulp-file-client),
unchanged: remote, repository, sync, publication, distribution, content list and upload,
repository versions, tasks, orphan cleanup; then downloads a distributed file.

Usage: bindings_flow.py BASE_URL PASSWORD MANIFEST_URL RELATIVE_PATH SHA256
Prints "bindings flow ok" on success; any failure raises.
"""

import hashlib
import os
import sys
import tempfile
import time
import urllib.request

from pulpcore.client import pulp_file, pulpcore

base, password, manifest_url, rel, sha = sys.argv[1:6]
name = f"bindings-{os.getpid()}"


def client(module):
    cfg = module.Configuration(host=base, username="admin", password=password)
    return module.ApiClient(cfg)


core = client(pulpcore)
file_client = client(pulp_file)
tasks = pulpcore.TasksApi(core)


def wait(task_href):
    deadline = time.time() + 60
    while True:
        t = tasks.read(task_href)
        if t.state in ("completed", "failed", "canceled"):
            assert t.state == "completed", f"{task_href}: {t.state} {t.error}"
            return t
        assert time.time() < deadline, f"{task_href} never finished"
        time.sleep(0.1)


status = pulpcore.StatusApi(core).status_read()
versions = {v.component: v.version for v in status.versions}
assert versions.get("core") and versions.get("file"), versions

remotes = pulp_file.RemotesFileApi(file_client)
repos = pulp_file.RepositoriesFileApi(file_client)
remote = remotes.create(pulp_file.FileFileRemote(name=name, url=manifest_url, policy="immediate"))
repo = repos.create(pulp_file.FileFileRepository(name=name, remote=remote.pulp_href))
assert repos.list(name=name).count == 1

sync = wait(repos.sync(repo.pulp_href, pulp_file.FileRepositorySyncURL()).task)
version_href = sync.created_resources[0]
version = pulp_file.RepositoriesFileVersionsApi(file_client).read(version_href)
assert version.number == 1, version

pub_task = wait(
    pulp_file.PublicationsFileApi(file_client)
    .create(pulp_file.FileFilePublication(repository=repo.pulp_href))
    .task
)
publication = pub_task.created_resources[0]
dist_task = wait(
    pulp_file.DistributionsFileApi(file_client)
    .create(pulp_file.FileFileDistribution(name=name, base_path=name, publication=publication))
    .task
)
dist = pulp_file.DistributionsFileApi(file_client).read(dist_task.created_resources[0])

content = pulp_file.ContentFilesApi(file_client)
listed = content.list(repository_version=version_href, relative_path=rel)
assert listed.count == 1 and listed.results[0].sha256 == sha, listed

with tempfile.NamedTemporaryFile(suffix=".txt") as f:
    f.write(b"uploaded through the bindings\n")
    f.flush()
    up = wait(content.create(relative_path="bindings/up.txt", file=f.name, repository=repo.pulp_href).task)
    assert any("/content/file/files/" in h for h in up.created_resources), up

versions_list = pulp_file.RepositoriesFileVersionsApi(file_client).list(repo.pulp_href)
assert versions_list.count == 3, versions_list.count
assert tasks.list(limit=5).count >= 4
wait(pulpcore.OrphansCleanupApi(core).cleanup(pulpcore.OrphansCleanup(orphan_protection_time=0)).task)

url = base.rstrip("/") + "/pulp/content/" + dist.base_path + "/" + rel
body = urllib.request.urlopen(url).read()
assert hashlib.sha256(body).hexdigest() == sha, "downloaded bytes differ"
print("bindings flow ok")
