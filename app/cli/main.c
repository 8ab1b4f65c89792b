/* dumu - command-line front end (placeholder until the pipeline lands). */
#include <stdio.h>

#include "dumu/dumu.h"

int main(void) {
    printf("dumu %s\n", dumu_version());
    return 0;
}
