// The public header must compile as C++ (and link-free use of its types must work).
#include "dumu/dumu.h"

int main() {
    dumu_error err = {};
    dumu_audio audio = {};
    (void)audio;
    return err.status == DUMU_OK ? 0 : 1;
}
