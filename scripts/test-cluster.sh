#!/bin/bash
# npm run test:cluster: the cluster fault suite (test/cluster) on the private
# three-node cluster of scripts/rabbitmq-cluster.sh. A cluster already up is
# reused and left up; otherwise it is brought up first and down after.
set -u
cd "$(dirname "$0")/.."
was_up=$(bash scripts/rabbitmq-cluster.sh status 2>/dev/null | grep -c ': running on')
[ "$was_up" = 3 ] || bash scripts/rabbitmq-cluster.sh up || exit 1
npx mocha --no-config --exit --require dist/test/support/root-hooks.js --timeout 60000 dist/test/cluster/*.test.js
rc=$?
[ "$was_up" = 3 ] || bash scripts/rabbitmq-cluster.sh down
exit $rc
