# The image that the image tests (Tests/FerryClusterTests/ImageTests.swift) run, written where
# they look for it (.build/image/ferry-<appVersion>.oci.tar). Sourced by scripts/test.sh and
# scripts/image-test.sh, after the debug build.
#
# build_test_image debug|release|auto
#   release  scripts/image.sh as a user runs it: the release build of ferry (about 10 minutes of
#            two cores to itself, 28 minutes measured on two cores shared with other builds)
#   debug    the same image from the debug build's objects: ferry relinked with the Swift
#            standard library static (a link, not a build), so that every CI run builds the
#            image and runs it within CI's time budget
#   auto     release when the image's own inputs changed in the last commit (HEAD~1..HEAD: what
#            a merge brought to main), else debug

# The files that decide how the image is built (the binary's sources are the same in both modes).
FERRY_IMAGE_INPUTS=(scripts/image.sh scripts/lib/image-rootfs.sh scripts/lib/test-image.sh deploy/Dockerfile Package.swift)

image_inputs_changed() {
    git rev-parse --verify --quiet HEAD~1 >/dev/null || return 1
    ! git diff --quiet HEAD~1 HEAD -- "${FERRY_IMAGE_INPUTS[@]}"
}

build_test_image() {
    local mode=${1:-auto}
    if [ "$mode" = auto ]; then
        mode=debug
        if image_inputs_changed; then
            mode=release
            echo "test image: the image's inputs changed in the last commit, so the release image is built and tested"
        fi
    fi
    local started=$SECONDS
    case $mode in
        release)
            scripts/image.sh ;;
        debug)
            swift build --product ferry --static-swift-stdlib
            scripts/image.sh --binary "$(swift build --product ferry --static-swift-stdlib --show-bin-path)/ferry" ;;
        *)
            echo "build_test_image: unknown mode $mode (debug, release or auto)" >&2
            return 1 ;;
    esac
    echo "test image: $mode image built in $((SECONDS - started)) s"
}
