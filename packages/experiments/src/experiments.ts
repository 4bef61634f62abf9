/** Importing this module registers every experiment. */
import "./env/tiny";
