/* td_str - see td_str.h. */
#include "td_str.h"

#include <ctype.h>
#include <string.h>

char *td_str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}
