#!/usr/bin/env bash
# Before `pulumi up` of an aws-ecs stack: the release runner image its stack file pins
# (`release:aws.runnerImage: <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:…`)
# must be in ECR, so that no data step of the update starts a task whose image cannot be pulled
# (an expired image, a digest pinned by hand from another account).
#
#   scripts/runner-image-pinned.sh Pulumi.<stack>.yaml
#
# Asks ECR with `aws ecr describe-images` (AWS credentials and CLI from the environment; needs
# `ecr:DescribeImages` on the repository). Reads the stack file with the project's js-yaml.
# Exit 0: the image is in ECR, or the stack starts no runner task (another platform, or
# `release:aws.dataStepsIn: local`), or the reference is not an ECR one (the program checks it).
# Exit 1: not pinned, or not in ECR; the message says what to do. Exit 2: usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "runner-image-pinned: $*" >&2; }
[ $# -eq 1 ] || { say "usage: scripts/runner-image-pinned.sh Pulumi.<stack>.yaml"; exit 2; }
file=$1
[ -f "$file" ] || { say "$file: no such stack file"; exit 2; }

# One line: platform, where data steps run, runner image ("-" where the stack file leaves it out).
fields=$(ROOT="$root" node -e '
    const yaml = require(require.resolve("js-yaml", { paths: [process.env.ROOT] }));
    const config = (yaml.load(require("fs").readFileSync(process.argv[1], "utf8")) ?? {}).config ?? {};
    const aws = config["release:aws"] ?? {};
    const field = (value) => (typeof value === "string" && value !== "" ? value : "-");
    console.log([field(config["release:platform"]), field(aws.dataStepsIn), field(aws.runnerImage)].join(" "));
' "$file")
read -r platform runs_in image <<<"$fields"
[ "$platform" != "-" ] || platform=aws-ecs
[ "$runs_in" != "-" ] || runs_in=task

if [ "$platform" != aws-ecs ]; then
    say "$file: platform $platform starts no ECS task; nothing to check"
    exit 0
fi
if [ "$runs_in" = local ]; then
    say "$file: data steps run on this runner (\`release:aws.dataStepsIn: local\`); nothing to check"
    exit 0
fi
if [ "$image" = - ]; then
    say "$file: \`release:aws.runnerImage\` is not set, and the data steps run as ECS tasks of it (\`release:aws.dataStepsIn: task\`): push a \`runner-v*\` tag, which builds the image and prints the line to pin (docs/aws-ecs.md#build-and-pin-the-runner-image)"
    exit 1
fi
ecr='^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9._/-]+)@(sha256:[0-9a-f]{64})$'
if [[ ! $image =~ $ecr ]]; then
    say "$file: \`release:aws.runnerImage\` $image is not an ECR image by digest; not checked here (the program refuses a reference without a digest)"
    exit 0
fi
account=${BASH_REMATCH[1]} region=${BASH_REMATCH[2]} repository=${BASH_REMATCH[3]} digest=${BASH_REMATCH[4]}
if ! answer=$(aws ecr describe-images --region "$region" --registry-id "$account" --repository-name "$repository" \
    --image-ids "imageDigest=$digest" --query 'imageDetails[0].imageTags' --output text 2>&1); then
    case $answer in
    *ImageNotFoundException* | *RepositoryNotFoundException*)
        say "$file: \`release:aws.runnerImage\` $image is not in ECR: $answer"
        say "push the runner image again (a \`runner-v*\` tag) and pin the digest it prints, or pin one that ECR still holds (\`aws ecr describe-images --repository-name $repository\`); nothing was changed"
        ;;
    *)
        say "$file: could not ask ECR for \`release:aws.runnerImage\` $image: $answer"
        say "this job's role needs \`ecr:DescribeImages\` on the repository $repository (docs/aws-permissions.md); nothing was changed"
        ;;
    esac
    exit 1
fi
say "$file: runner image $image is in ECR (tags: $answer)"
